"""`npz:PATH`: a NumPy .npz archive with arrays `x` and `y`, and optionally `x_test` and `y_test`
(both or neither), `classes` (names, in class-id order) and `layout` (a string, see below).

Without a test split the set is split 80/20, seeded and stratified by class. The axes of x are
read by its number of dimensions: (N, L) 1-D signals and (N, H, W) grayscale images get a
channel axis; (N, H, W, 1|3) images in Keras/TensorFlow order (a last axis of 1 or 3 and a
second that is neither) become (N, C, H, W); other 4-D and 5-D arrays are channels-first. A
`layout` entry (one of LAYOUTS, e.g. "NCL" for multi-channel 1-D signals) overrides the guess.
A 3-D x that holds a spec's (C, L) signals is read as (N, 1, C, L) images, which
`fit_to_input` turns back into (N, C, L). uint8 pixels are scaled to [0, 1]; other values are
taken as they are. y (N,) holds class ids; y (N, H, W) per-pixel ids make a segmentation set.
Every array needs at least one example and no empty axis, and so does each split.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from cnnc_runtime.data.dataset import (
    DataError,
    Dataset,
    numbered_classes,
    scale_bytes,
    split_indices,
)
from cnnc_runtime.wording import plural

# Layout -> axes order that makes it (N, C, *spatial); None adds a channel axis.
LAYOUTS = {"NL": None, "NHW": None, "NCL": (0, 1, 2), "NCHW": (0, 1, 2, 3),
           "NHWC": (0, 3, 1, 2), "NCDHW": (0, 1, 2, 3, 4)}


def guess_layout(shape: tuple[int, ...]) -> str | None:
    """The layout an array of this shape most likely has, or None when no rule applies."""
    if len(shape) == 4 and shape[-1] in (1, 3) and shape[1] not in (1, 3):
        return "NHWC"
    return {2: "NL", 3: "NHW", 4: "NCHW", 5: "NCDHW"}.get(len(shape))


def x_shapes(input_shape: tuple[int, ...]) -> str:
    """The shapes of an `x` that fit a spec's input (C, *spatial), as text: "(N, 40) or
    (N, 1, 40)" for [1, 40]; shapes that need a `layout` entry only when no other fits."""
    c, *space = input_shape
    fits: list[tuple[int, ...]] = []
    for sample in ((*space,), (c, *space), (*space, c)):
        shape = (2, *sample)  # any N: the guess does not read it
        layout = guess_layout(shape)
        if layout is None or sample in fits:
            continue
        axes = LAYOUTS[layout]
        read = (1, *sample) if axes is None else tuple(shape[a] for a in axes[1:])
        # fit_to_input also takes samples of the spec's shape behind a channel axis of 1
        if read in (tuple(input_shape), (1, *input_shape)):
            fits.append(sample)
    text = ["(N, " + ", ".join(map(str, sample)) + ")" for sample in fits or [input_shape]]
    if not fits:
        return f"{text[0]} with a `layout` entry"
    return text[0] if len(text) == 1 else ", ".join(text[:-1]) + " or " + text[-1]


def inputs(x: np.ndarray, layout: str | None, where: str) -> np.ndarray:
    """x of the given (or guessed) layout -> float32 (N, C, *spatial)."""
    layout = layout or guess_layout(x.shape)
    if layout not in LAYOUTS or len(layout) != x.ndim:
        raise DataError(f"{where}: cannot read x of shape {x.shape} as layout {layout}; "
                        f"expected (N, L), (N, H, W), (N, H, W, C), (N, C, H, W) or "
                        f"(N, C, D, H, W), or a `layout` entry naming one of "
                        f"{', '.join(LAYOUTS)} with as many letters as x has axes")
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where}: x has dtype {x.dtype}; expected numbers (uint8 pixels or floats)")
    axes = LAYOUTS[layout]
    x = x[:, None] if axes is None else x.transpose(axes)
    x = scale_bytes(x) if x.dtype == np.uint8 else np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise DataError(f"{where}: x holds NaN or infinite values; clean the data first")
    return x


def targets(y: np.ndarray, x: np.ndarray, where: str) -> np.ndarray:
    """Class ids, one per sample (N,) or per pixel (N, H, W), checked against x -> int64."""
    if y.dtype.kind not in "iub" or (y.size and y.min() < 0):
        raise DataError(f"{where}: y must hold non-negative integer class ids; found "
                        f"dtype {y.dtype}" + (f", min {y.min()}" if y.size else "")
                        + "; save it with y.astype(numpy.int64)")
    per_pixel = y.ndim == 3 and y.shape[1:] == x.shape[2:]
    if len(y) != len(x) or not (y.ndim == 1 or per_pixel):
        raise DataError(f"{where}: y has shape {y.shape} for x of shape {x.shape}; expected "
                        f"({len(x)},) class ids or ({len(x)}, *{x.shape[2:]}) per-pixel ids")
    return y.astype(np.int64)


def load(path: str, seed: int = 0) -> Dataset:
    """`npz:PATH` -> a Dataset; errors name the file and the keys it holds."""
    where = f"npz:{path}"
    try:
        archive = np.load(Path(path), allow_pickle=False)
        if isinstance(archive, np.lib.npyio.NpzFile):
            with archive:
                arrays = {k: archive[k] for k in archive.files}
    except FileNotFoundError:
        raise DataError(f"{where}: no such file; expected a .npz archive made by "
                        "numpy.savez(PATH, x=..., y=...)") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{where}: not a readable .npz archive ({e}); expected one made by "
                        "numpy.savez(PATH, x=..., y=...) without pickled objects") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a bare .npy array
        raise DataError(f"{where}: holds one array, not an archive; save the inputs and labels "
                        "together with numpy.savez(PATH, x=..., y=...)")
    found = ", ".join(sorted(arrays)) or "none"
    if "x" not in arrays or "y" not in arrays:
        raise DataError(f"{where}: expected arrays `x` and `y` (and optionally `x_test`, "
                        f"`y_test`, `classes`); found keys: {found}")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{where}: `x_test` and `y_test` come together; found keys: {found}")
    for key in ("x", "y", "x_test", "y_test"):
        if key in arrays and (arrays[key].ndim == 0 or arrays[key].size == 0):
            raise DataError(f"{where}: `{key}` has shape {arrays[key].shape}, which holds no "
                            "data; expected one entry per example along the first axis, at "
                            "least one example, and no axis of size 0")
    layout = str(arrays["layout"]) if "layout" in arrays else None
    x = inputs(arrays["x"], layout, where)
    y = targets(arrays["y"], x, where)
    if "x_test" in arrays:
        x_test = inputs(arrays["x_test"], layout, where)
        y_test = targets(arrays["y_test"], x_test, where)
        if x_test.shape[1:] != x.shape[1:]:
            raise DataError(f"{where}: x_test samples have shape {x_test.shape[1:]} but x "
                            f"samples {x.shape[1:]}; both splits need one shape")
    else:
        train, test = split_indices(y, seed)
        if len(test) == 0:
            raise DataError(f"{where}: no test split can be taken from "
                            f"{plural(len(y), 'example')} (a class needs two to give one); add "
                            "examples, or give `x_test` and `y_test`")
        x, y, x_test, y_test = x[train], y[train], x[test], y[test]
    if "classes" in arrays:
        classes = [str(c) for c in arrays["classes"].ravel()]
    else:
        classes = numbered_classes(y, y_test)
    top = max(int(y.max(initial=0)), int(y_test.max(initial=0)))
    if top >= len(classes):
        raise DataError(f"{where}: a label is {top} but `classes` names only "
                        f"{plural(len(classes), 'class')}; give one name per class id")
    task = "classify" if y.ndim == 1 else "segment"
    return Dataset(where, x, y, x_test, y_test, classes, task)
