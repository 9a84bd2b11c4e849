"""scikit-learn's 8x8 digits (runtime/data/digits.py)."""

import sys

import numpy as np
import pytest

from cnnc_runtime.data import DataError, load_dataset


def test_digits_are_scaled_8x8_images_split_80_20_by_class():
    pytest.importorskip("sklearn")
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1438, 1, 8, 8) and ds.x_test.shape == (359, 1, 8, 8)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0  # counts 0..16, divided by 16
    ratio = np.bincount(ds.y_test) / (np.bincount(ds.y_train) + np.bincount(ds.y_test))
    np.testing.assert_allclose(ratio, 0.2, atol=0.015)  # every class split 80/20
    assert ds.classes == [str(i) for i in range(10)]


def test_the_digits_split_depends_only_on_the_seed():
    pytest.importorskip("sklearn")
    a, b, c = load_dataset("digits", 1), load_dataset("digits", 1), load_dataset("digits", 2)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.y_train, c.y_train)
    joined = np.concatenate([a.x_train, a.x_test]).reshape(1797, -1)
    assert len(np.unique(joined, axis=0)) == len(np.unique(np.concatenate(
        [c.x_train, c.x_test]).reshape(1797, -1), axis=0))  # same images, another split


def test_without_scikit_learn_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import now raises ImportError
    with pytest.raises(DataError, match="pip install scikit-learn$"):
        load_dataset("digits")
