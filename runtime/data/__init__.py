"""Datasets for `cnnc run`: real data, loaded or generated on the host with NumPy, never
downloaded.

`load_dataset(source, seed)` returns a `Dataset` (float32 inputs (N, C, *spatial), int64
targets); `fit_to_input` makes it match a spec's input; `normalise` standardises it per channel
with train-split statistics. Each source lives in its own module; the tables below name them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from cnnc_runtime.data import digits, folder, idx, mnist1d, npz, scenes
from cnnc_runtime.data.dataset import DataError, Dataset, hold_out
from cnnc_runtime.data.fit import fit_to_input, normalise, standardise

__all__ = ["SOURCES", "DataError", "Dataset", "fit_to_input", "hold_out", "load_dataset",
           "normalise", "standardise"]

# Built-in sets by name: loader(seed).
NAMED: dict[str, Callable[[int], Dataset]] = {
    "mnist1d": mnist1d.load,
    "digits": digits.load,
    "fashion-mnist": idx.load_fashion_mnist,
    "fashion-scenes": scenes.load,
}
# Sets on disk by prefix, "prefix:PATH": loader(path, seed).
ON_DISK: dict[str, Callable[[str, int], Dataset]] = {
    "idx": idx.load,
    "npz": npz.load,
    "folder": folder.load,
}

SOURCES = """\
  mnist1d         MNIST-1D, generated: 4000 train / 1000 test signals (1, 40), 10 classes
  digits          scikit-learn's 8x8 digits: 1438 / 359 images (1, 8, 8), 10 classes
  fashion-mnist   Fashion-MNIST (Debian dataset-fashion-mnist): 60000 / 10000 (1, 28, 28)
  fashion-scenes  segmentation: 2-4 Fashion-MNIST garments per 64x64 scene, 11 classes
  idx:DIR         MNIST-format files: DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
  npz:FILE        a NumPy .npz with arrays x, y (optional x_test, y_test, classes)
  folder:DIR      images in DIR/<class>/ (or DIR/train/<class>/ and DIR/test/<class>/)"""


def load_dataset(source: str, seed: int = 0) -> Dataset:
    """The dataset named by `source` (see SOURCES); `seed` fixes generation and splits."""
    if not 0 <= seed < 2**32:
        raise DataError(f"seed {seed} is out of range; expected an integer from 0 to 2**32 - 1")
    prefix, colon, path = source.partition(":")
    if colon and prefix in ON_DISK:
        if not path:
            raise DataError(f"'{source}' names no path; write {prefix}:PATH")
        return ON_DISK[prefix](path, seed)
    if source in NAMED:
        return NAMED[source](seed)
    accepted = [*NAMED, *(f"{p}:" for p in ON_DISK)]
    close = difflib.get_close_matches(f"{prefix}:" if colon else source, accepted, n=1)
    if close and close[0].endswith(":"):  # keep the user's path in the suggestion
        close = [close[0] + (path or "PATH")]
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise DataError(f"unknown dataset '{source}'; {hint}expected one of "
                    f"{', '.join(NAMED)} or {', '.join(f'{p}:PATH' for p in ON_DISK)}")
