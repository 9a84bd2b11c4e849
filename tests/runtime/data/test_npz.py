"""`npz:PATH` archives (runtime/data/npz.py): round trips, layouts and refusals."""

import re

import numpy as np
import pytest

from cnnc_runtime.data import DataError, fit_to_input, load_dataset
from cnnc_runtime.data.npz import x_shapes


def save(tmp_path, **arrays):
    path = tmp_path / "set.npz"
    np.savez(path, **arrays)
    return f"npz:{path}"


def test_given_splits_round_trip_and_uint8_is_scaled(tmp_path):
    rng = np.random.default_rng(0)
    x, x_test = rng.integers(0, 256, (10, 6, 5), dtype=np.uint8), rng.integers(0, 256, (4, 6, 5),
                                                                              dtype=np.uint8)
    y, y_test = np.arange(10) % 3, np.array([2, 0, 1, 1])
    ds = load_dataset(save(tmp_path, x=x, y=y, x_test=x_test, y_test=y_test,
                           classes=np.array(["cat", "dog", "eel"])))
    assert ds.x_train.shape == (10, 1, 6, 5) and ds.x_train.dtype == np.float32
    np.testing.assert_allclose(ds.x_test[:, 0], x_test / 255, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train, y)
    assert ds.y_test.dtype == np.int64 and ds.classes == ["cat", "dog", "eel"]
    assert ds.task == "classify"


def test_without_a_test_split_each_class_is_split_80_20_by_seed(tmp_path):
    x = np.arange(100 * 40, dtype=np.float64).reshape(100, 40)  # (N, L) signals
    y = np.repeat([0, 1, 2, 3], 25)
    source = save(tmp_path, x=x, y=y)
    a, b, c = load_dataset(source, 5), load_dataset(source, 5), load_dataset(source, 6)
    assert a.x_train.shape == (80, 1, 40) and a.x_test.shape == (20, 1, 40)
    assert np.bincount(a.y_test).tolist() == [5, 5, 5, 5]
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_test, c.x_test)
    rows = np.concatenate([a.x_train, a.x_test])[:, 0, 0] // 40  # the original row of each
    assert sorted(rows.tolist()) == list(range(100))  # nothing lost, nothing repeated
    np.testing.assert_array_equal(np.concatenate([a.y_train, a.y_test]), y[rows.astype(int)])
    assert a.x_train.dtype == np.float32 and a.x_train.max() == 3999  # floats kept as they are


def test_channels_last_images_become_channels_first(tmp_path):
    x = np.random.default_rng(1).random((5, 8, 6, 3)).astype(np.float32)
    ds = load_dataset(save(tmp_path, x=x, y=np.zeros(5, int), x_test=x, y_test=np.zeros(5, int)))
    assert ds.x_train.shape == (5, 3, 8, 6)
    np.testing.assert_array_equal(ds.x_train[:, 1], x[..., 1])


def test_a_layout_entry_reads_multichannel_signals(tmp_path):
    x = np.random.default_rng(2).random((5, 2, 40))
    ds = load_dataset(save(tmp_path, x=x, y=np.arange(5), x_test=x, y_test=np.arange(5),
                           layout="NCL"))
    assert ds.x_test.shape == (5, 2, 40)


def test_per_pixel_labels_make_a_segmentation_set(tmp_path):
    x = np.zeros((10, 4, 4), np.uint8)
    y = np.random.default_rng(3).integers(0, 3, (10, 4, 4))
    ds = load_dataset(save(tmp_path, x=x, y=y))
    assert ds.task == "segment" and ds.y_train.shape == (8, 4, 4)
    assert ds.classes == ["0", "1", "2"]


def test_missing_keys_are_listed(tmp_path):
    with pytest.raises(DataError, match="expected arrays `x` and `y`.*found keys: images, labels"):
        load_dataset(save(tmp_path, images=np.zeros((2, 3)), labels=np.zeros(2)))


def test_x_test_without_y_test_is_refused(tmp_path):
    with pytest.raises(DataError, match="`x_test` and `y_test` come together"):
        load_dataset(save(tmp_path, x=np.zeros((2, 3)), y=np.zeros(2, int), x_test=np.zeros((1, 3))))


@pytest.mark.parametrize("y, message", [
    (np.zeros(3, int), r"y has shape \(3,\) for x of shape \(4, 1, 5\)"),
    (np.array([0.0, 1.0, 1.0, 0.0]), "non-negative integer class ids; found dtype float64.*astype"),
    (np.array([0, -1, 1, 0]), "found dtype int64, min -1"),
])
def test_bad_labels_are_refused(tmp_path, y, message):
    with pytest.raises(DataError, match=message):
        load_dataset(save(tmp_path, x=np.zeros((4, 5)), y=y))


def test_non_finite_inputs_are_refused(tmp_path):
    x = np.zeros((4, 5))
    x[2, 3] = np.nan
    with pytest.raises(DataError, match="x holds NaN or infinite values"):
        load_dataset(save(tmp_path, x=x, y=np.zeros(4, int)))


def test_more_labels_than_class_names_is_refused(tmp_path):
    with pytest.raises(DataError, match="a label is 2 but `classes` names only 2 classes"):
        load_dataset(save(tmp_path, x=np.zeros((5, 3)), y=np.array([0, 1, 2, 0, 1]),
                          classes=np.array(["a", "b"])))


def test_a_missing_or_corrupt_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_dataset(f"npz:{tmp_path / 'absent.npz'}")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="junk.npz: not a readable .npz archive"):
        load_dataset(f"npz:{tmp_path / 'junk.npz'}")
    np.save(tmp_path / "one.npy", np.zeros((3, 4)))
    with pytest.raises(DataError, match=r"one.npy: holds one array, not an archive; save the inputs"):
        load_dataset(f"npz:{tmp_path / 'one.npy'}")


@pytest.mark.parametrize("arrays, key, shape", [
    ({"x": np.zeros((0, 40)), "y": np.zeros(0, int)}, "x", (0, 40)),  # was NumPy's message
    ({"x": np.zeros((10, 40)), "y": np.zeros(0, int)}, "y", (0,)),
    ({"x": np.zeros((10, 0)), "y": np.zeros(10, int)}, "x", (10, 0)),
    ({"x": np.zeros((4, 5)), "y": np.zeros(4, int), "x_test": np.zeros((0, 5)),
      "y_test": np.zeros(0, int)}, "x_test", (0, 5)),
    ({"x": np.zeros((4, 5)), "y": np.array(3)}, "y", ()),
])
def test_empty_arrays_are_named(tmp_path, arrays, key, shape):
    source = save(tmp_path, **arrays)
    with pytest.raises(DataError) as e:
        load_dataset(source)
    assert str(e.value) == (f"{source}: `{key}` has shape {shape}, which holds no data; expected "
                            "one entry per example along the first axis, at least one example, "
                            "and no axis of size 0")


def test_too_few_examples_to_hold_out_a_test_split_are_refused(tmp_path):
    with pytest.raises(DataError, match="no test split can be taken from 3 examples .* give "
                                        "`x_test` and `y_test`"):
        load_dataset(save(tmp_path, x=np.ones((3, 5)), y=np.array([0, 1, 2])))


@pytest.mark.parametrize("input_shape, shapes", [
    ((1, 40), "(N, 40) or (N, 1, 40)"),
    ((4, 40), "(N, 4, 40)"),
    ((1, 28, 28), "(N, 28, 28), (N, 1, 28, 28) or (N, 28, 28, 1)"),
    ((3, 32, 32), "(N, 3, 32, 32) or (N, 32, 32, 3)"),
    ((2, 4, 4, 4), "(N, 2, 4, 4, 4)"),
    ((5, 32, 3), "(N, 5, 32, 3) with a `layout` entry"),  # the guess reads it as NHWC
])
def test_the_shapes_of_x_that_fit_a_spec(input_shape, shapes):
    assert x_shapes(input_shape) == shapes


@pytest.mark.parametrize("input_shape", [(1, 40), (4, 40), (1, 28, 28), (3, 32, 32)])
def test_every_shape_named_as_fitting_does_fit(tmp_path, input_shape):
    for dims in re.findall(r"\(N, ([\d, ]+)\)", x_shapes(input_shape)):
        x = np.ones((4, *map(int, dims.split(", "))))
        ds = fit_to_input(load_dataset(save(tmp_path, x=x, y=np.arange(4) % 2)), input_shape)
        assert ds.x_train.shape[1:] == input_shape, dims
