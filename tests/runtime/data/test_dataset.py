"""hold_out: the validation split is a pure function of the seed and the data, stratified,
and refused when it would leave either side empty."""

import numpy as np
import pytest

from cnnc_runtime.data import DataError, Dataset, hold_out


def dataset(y: np.ndarray) -> Dataset:
    x = np.arange(len(y), dtype=np.float32).reshape(-1, 1, 1)  # x[i] names example i
    return Dataset("toy", x, y, x[:1], y[:1], [str(c) for c in range(10)], "classify")


def test_the_split_is_drawn_by_the_seed_alone_and_keeps_every_example_once():
    y = np.arange(1000) % 10
    kept, x_val, y_val = hold_out(dataset(y), 0.1, seed=3)
    again = hold_out(dataset(y.copy()), 0.1, seed=3)
    np.testing.assert_array_equal(again[1], x_val)  # the same examples, however often asked
    assert not np.array_equal(hold_out(dataset(y), 0.1, seed=4)[1], x_val)
    ids = np.concatenate([kept.x_train, x_val]).reshape(-1)
    assert sorted(ids) == list(range(1000))  # disjoint, and nothing lost
    assert np.bincount(y_val).tolist() == [10] * 10  # stratified: a tenth of each class
    np.testing.assert_array_equal(y[x_val.reshape(-1).astype(int)], y_val)


def test_label_maps_are_split_without_strata():
    y = np.zeros((50, 2, 2), np.int64)
    kept, x_val, y_val = hold_out(dataset(y), 0.2, seed=0)
    assert len(kept.x_train) == 40 and len(x_val) == 10 and y_val.shape == (10, 2, 2)


def test_a_split_that_leaves_a_side_empty_is_refused():
    with pytest.raises(DataError, match="leaves no validation examples of toy's 3 training "
                                        "examples; raise it"):
        hold_out(dataset(np.zeros((3, 1, 1), np.int64)), 0.1, seed=0)
