"""Random changes to a training batch (--flip, --crop), drawn from a generator the caller seeds
by (seed, step), so a resumed run draws the same ones. Host NumPy, in the batch's layout:
x (N, C, *spatial), y (N,) class ids or (N, *spatial) label maps, which move with their images.
The test and validation splits are never changed.
"""

from __future__ import annotations

import numpy as np


def mirror_half(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
    """Mirror a random half of the batch along its last axis, in place; label maps too.
    Left-right is a symmetry of garments and scenes, so this doubles the distinct images a
    small set offers."""
    which = rng.random(len(x)) < 0.5
    x[which] = x[which, ..., ::-1]
    if y.ndim > 1:
        y[which] = y[which, ..., ::-1]


def random_crop(x: np.ndarray, y: np.ndarray, pad: int, fill: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) with each example padded by `pad` on every side of every spatial axis and cropped
    back to its size at a random offset (torchvision's RandomCrop(size, padding=pad)): a shift
    of up to `pad` each way. The border it uncovers takes `fill` (C,) per channel, the value a
    zero pixel has after normalisation, and class 0 (background) in label maps."""
    n, c, *space = x.shape
    offsets = rng.integers(0, 2 * pad + 1, (n, len(space)))  # (N, spatial axes)
    inner = tuple(slice(pad, pad + s) for s in space)
    padded = np.empty((n, c, *(s + 2 * pad for s in space)), x.dtype)  # (N, C, *(S + 2 pad))
    padded[...] = fill.reshape(1, c, *(1,) * len(space))
    padded[(slice(None), slice(None), *inner)] = x
    maps = y.ndim > 1
    if maps:
        padded_y = np.zeros((n, *padded.shape[2:]), y.dtype)  # (N, *(S + 2 pad))
        padded_y[(slice(None), *inner)] = y
    cropped, cropped_y = np.empty_like(x), np.empty_like(y)
    for i, offset in enumerate(offsets):
        window = tuple(slice(o, o + s) for o, s in zip(offset, space))
        cropped[i] = padded[(i, slice(None), *window)]
        cropped_y[i] = padded_y[(i, *window)] if maps else y[i]
    return cropped, cropped_y
