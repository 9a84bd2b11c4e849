"""Make a dataset fit a network's input, and normalise it with statistics the checkpoint can keep.

`fit_to_input` changes data only where the intent is plain: a small even border of zeros
(28x28 digits into LeNet-5's 32x32, its classic 2-pixel margin), a bilinear resize of 2-D images
otherwise, gray to RGB by repeating the channel, and dropping a channel axis of 1 in front of
samples already shaped like the input (an npz `x` of (N, 1, 40), read as one-row images, for a
spec's [1, 40]). Everything else (stretching 1-D signals, dropping colour, changing the number
of spatial axes) changes what the data means, so it is refused with a message that names both
shapes, and for an npz file the shapes of `x` that would fit.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from cnnc_runtime.data.dataset import DataError, Dataset
from cnnc_runtime.data.npz import x_shapes

MAX_BORDER = 0.25  # a zero border may add at most this fraction of the size; more is a resize


def bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of 1-D linear resampling with align_corners=False geometry: output
    cell centres map onto input cell centres, PyTorch's and OpenCV's default (no antialiasing)."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    lo = np.minimum(src.astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = src - lo
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), lo), 1 - frac)
    np.add.at(m, (np.arange(n_out), hi), frac)
    return m.astype(np.float32)


def resize_bilinear(x: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """x (N, C, H, W) -> (N, C, Ho, Wo): separable bilinear resampling, like
    torch.nn.functional.interpolate(mode="bilinear", align_corners=False)."""
    n, c, h, w = x.shape
    ho, wo = size
    rows = x.reshape(-1, w) @ bilinear_matrix(w, wo).T  # (N*C*H, Wo), one GEMM
    return np.matmul(bilinear_matrix(h, ho), rows.reshape(n, c, h, wo))  # (N, C, Ho, Wo)


def resize_nearest(y: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Label maps y (N, H, W) -> (N, Ho, Wo), each output cell taking the input cell under its
    centre (the same geometry as `resize_bilinear`), so labels stay labels."""
    (h, w), (ho, wo) = y.shape[1:], size
    rows = np.minimum(((np.arange(ho) + 0.5) * (h / ho)).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(wo) + 0.5) * (w / wo)).astype(np.int64), w - 1)
    return y[:, rows[:, None], cols[None, :]]


def is_small_border(have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether `want` is `have` plus an even zero border of at most MAX_BORDER of the size."""
    grow = [b - a for a, b in zip(have, want)]
    return all(g >= 0 and g % 2 == 0 and g <= MAX_BORDER * a for a, g in zip(have, grow))


def fmt(shape: tuple[int, ...]) -> str:
    """A sample shape as a spec writes it: [1, 28, 28]."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def fit_to_input(ds: Dataset, input_shape: tuple[int, ...]) -> Dataset:
    """A new Dataset whose samples have shape `input_shape` (C, *spatial) (sharing the arrays
    that need no change), or a DataError that says what the spec expects and what the data has."""
    have, want = tuple(ds.x_train.shape[1:]), tuple(input_shape)
    if have == want:
        return dataclasses.replace(ds)
    if have == (1, *want) and ds.task == "classify":  # per-pixel labels would lose their rows
        return dataclasses.replace(ds, x_train=ds.x_train[:, 0], x_test=ds.x_test[:, 0])
    head = f"the spec's input is {fmt(want)} but '{ds.name}' samples are {fmt(have)}"
    # npz files are the source whose layout a user chooses
    shapes = (f"; an npz `x` for this spec has shape {x_shapes(want)}"
              if ds.name.startswith("npz:") else "")
    if len(have) != len(want):
        kinds = {2: "1-D signals", 3: "2-D images", 4: "3-D volumes"}
        raise DataError(f"{head}: {kinds.get(len(have), 'this data')} cannot feed a network "
                        f"built for {kinds.get(len(want), 'other data')}; set `input` to "
                        f"{fmt(have)} or choose a dataset of that kind{shapes}")
    (c, *space), (c_want, *space_want) = have, want
    if c != c_want and not (c == 1 and c_want == 3):
        fix = ("convert the images to grayscale first, or set `input` to "
               f"{fmt((c, *space_want))}" if c == 3 and c_want == 1
               else f"set `input` to {fmt((c, *space_want))}")
        raise DataError(f"{head}: {c} channels cannot become {c_want} without guessing; "
                        f"{fix}{shapes}")
    if space != space_want and len(space) != 2:
        raise DataError(f"{head}: resizing {'1-D signals' if len(space) == 1 else 'volumes'} "
                        f"would change what they mean; set `input` to {fmt((c_want, *space))}")
    splits = {"train": (ds.x_train, ds.y_train), "test": (ds.x_test, ds.y_test)}
    for split, (x, y) in splits.items():
        if space != space_want:
            x, y = resize_2d(x, y, tuple(space), tuple(space_want), ds.task == "segment")
        if c != c_want:
            x = np.repeat(x, c_want, axis=1)  # gray -> RGB: same value in every channel
        splits[split] = (x, y)
    (x_train, y_train), (x_test, y_test) = splits.values()
    return dataclasses.replace(ds, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def resize_2d(x: np.ndarray, y: np.ndarray, have: tuple[int, int], want: tuple[int, int],
              per_pixel: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (and per-pixel labels) to size `want`: a small even zero border when that is
    all it takes (labels padded with background 0), else bilinear (labels nearest)."""
    if is_small_border(have, want):
        pad = tuple(((b - a) // 2,) * 2 for a, b in zip(have, want))  # ((top, bottom), (l, r))
        x = np.pad(x, ((0, 0), (0, 0), *pad))
        return x, (np.pad(y, ((0, 0), *pad)) if per_pixel else y)
    return resize_bilinear(x, want), (resize_nearest(y, want) if per_pixel else y)


def channel_stats(x: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (population) of x (N, C, ...), float64, in two passes over
    chunks of samples: exact for any offset, and no float64 copy of the whole set."""
    axes = (0, *range(2, x.ndim))
    count = x.size // x.shape[1]
    total = sum(x[i:i + chunk].sum(axis=axes, dtype=np.float64) for i in range(0, len(x), chunk))
    mean = total / count
    shape = (1, -1) + (1,) * (x.ndim - 2)
    sq = sum((np.square(x[i:i + chunk] - mean.reshape(shape))).sum(axis=axes)
             for i in range(0, len(x), chunk))
    return mean, np.sqrt(sq / count)


def normalise(ds: Dataset) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """(dataset, mean, std): both splits shifted and scaled per channel by the train split's
    statistics; mean and std are float32 (C,), for inference to apply the same transform.
    A constant channel keeps std 1, so it becomes zeros instead of NaN."""
    mean, std = channel_stats(ds.x_train)
    std[std == 0] = 1.0
    mean, std = mean.astype(np.float32), std.astype(np.float32)
    new = dataclasses.replace(ds, x_train=standardise(ds.x_train, mean, std),
                              x_test=standardise(ds.x_test, mean, std))
    return new, mean, std


def standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(x - mean) / std per channel for x (N, C, ...) and float32 mean, std (C,): the transform
    `normalise` applies, for inference with a checkpoint's statistics."""
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / std.reshape(shape)
