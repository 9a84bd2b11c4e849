"""scikit-learn's bundled 8x8 handwritten digits (the UCI optical-digits test set, 1797 images).

Pixels are counts 0..16 of set cells in 4x4 blocks of a 32x32 bitmap, so x = count / 16 lies in
[0, 1]. The split is stratified and seeded: 80% of each class to train (1438 in all), 20% to test.
scikit-learn is optional; it ships the data file, so nothing is downloaded.
"""

from __future__ import annotations

import numpy as np

from cnnc_runtime.data.dataset import DataError, Dataset, split_indices


def load(seed: int = 0) -> Dataset:
    """`digits`: x float32 (N, 1, 8, 8) in [0, 1], y int64 (N,), classes "0".."9"."""
    try:
        from sklearn.datasets import load_digits  # optional; imported only for this source
    except ImportError:
        raise DataError("the 'digits' dataset ships with scikit-learn, which is not installed: "
                        "pip install scikit-learn") from None
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    train, test = split_indices(y, seed)
    return Dataset("digits", x[train], y[train], x[test], y[test],
                   [str(int(c)) for c in bunch.target_names], "classify")
