"""The `Dataset` every loader returns, the error every loader raises, and the helpers they share.

Arrays are host-side NumPy: inputs float32 `(N, C, *spatial)`, targets int64 `(N,)` class ids or
`(N, H, W)` per-pixel class ids for segmentation. The train loop moves batches to the device.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from cnnc_runtime.wording import plural


class DataError(ValueError):
    """A data source that cannot be used; the one-line message says what is wrong, what was
    expected and how to fix it."""


@dataclass
class Dataset:
    """A train and a test split with their class names.

    x_*: float32 (N, C, *spatial), images scaled to [0, 1] and not normalised (see `normalise`).
    y_*: int64 (N,) class ids for task "classify", or (N, H, W) per-pixel ids for "segment".
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    task: str  # "classify" or "segment"


def scale_bytes(x: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1], in one pass (astype then divide makes two arrays)."""
    out = np.empty(x.shape, np.float32)
    np.divide(x, np.float32(255), out=out, dtype=np.float32)
    return out


def split_indices(y: np.ndarray, seed: int | list[int], train_fraction: float = 0.8
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test index split, stratified by class when `y` holds one label per sample.

    Each class gives round(train_fraction * its count) samples to train but keeps at least one
    for test when it has two, so small or unbalanced sets keep every class on both sides;
    per-pixel targets get a plain permutation.
    Both index arrays come back shuffled: sources are often stored class by class.
    """
    rng = np.random.default_rng(seed)
    if y.ndim != 1:
        order = rng.permutation(len(y))
        cut = round(train_fraction * len(y))
        return order[:cut], order[cut:]
    train, test = [], []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        cut = min(round(train_fraction * len(members)), max(len(members) - 1, 1))
        train.append(members[:cut])
        test.append(members[cut:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def hold_out(ds: Dataset, fraction: float, seed: int
             ) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """(the data set without them, x_val, y_val): `fraction` of the training split held out for
    validation, stratified by class as `split_indices` splits. A function of the seed and the
    data alone, so a resumed run holds out the same examples; its own stream of the seed
    ([seed, 1]) keeps it apart from the seed's other draws (a set's test split, say)."""
    keep, val = (np.sort(i) for i in split_indices(ds.y_train, [seed, 1], 1 - fraction))
    if not (len(keep) and len(val)):
        side, fix = ("validation", "raise it") if len(keep) else ("training", "lower it")
        raise DataError(f"--val-split {fraction} leaves no {side} examples of {ds.name}'s "
                        f"{plural(len(ds.y_train), 'training example')}; {fix}")
    # sorted: both keep the source's order, and the gathers walk memory forward
    return (replace(ds, x_train=ds.x_train[keep], y_train=ds.y_train[keep]),
            ds.x_train[val], ds.y_train[val])


def numbered_classes(*labels: np.ndarray) -> list[str]:
    """Class names "0".."K-1", with K one more than the largest label in any split."""
    top = max((int(y.max()) for y in labels if y.size), default=-1)
    return [str(i) for i in range(top + 1)]
