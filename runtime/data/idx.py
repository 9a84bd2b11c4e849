"""MNIST-format IDX files: `fashion-mnist` from the Debian package and `idx:DIR` for any set.

The IDX format (Y. LeCun's MNIST page): two zero bytes, a dtype code, the number of dimensions,
then one big-endian uint32 per dimension and the row-major big-endian data. Files may be gzipped;
the gzip magic bytes decide, not the file name, because people unpack and rename these files.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from cnnc_runtime.data.dataset import DataError, Dataset, numbered_classes, scale_bytes
from cnnc_runtime.wording import plural

DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
# Role -> (split words, kind words) that a file name must contain. MNIST, Fashion-MNIST and
# KMNIST use "train-images-idx3-ubyte"; Kaggle copies write "train-images.idx3-ubyte"; EMNIST
# prefixes "emnist-<set>-" and says "test" where MNIST says "t10k".
ROLES = {"train images": (("train",), ("images", "imgs")),
         "train labels": (("train",), ("labels",)),
         "test images": (("t10k", "test"), ("images", "imgs")),
         "test labels": (("t10k", "test"), ("labels",))}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in one IDX file (gzipped or plain), in native byte order."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except OSError as e:  # includes gzip.BadGzipFile
        raise DataError(f"{path}: cannot read it as an IDX file ({e}); "
                        "expected an MNIST-format file, gzipped or plain") from None
    except (EOFError, zlib.error):
        raise DataError(f"{path}: the gzip stream is truncated or corrupt; "
                        "download or unpack the file again") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in DTYPES:
        raise DataError(f"{path}: not an IDX file (header {raw[:4].hex() or 'empty'}; expected "
                        "00 00, a dtype code 08/09/0b/0c/0d/0e and the number of dimensions)")
    dtype, ndim = np.dtype(DTYPES[raw[2]]), raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4) if len(raw) >= 4 + 4 * ndim else None
    if dims is None or ndim == 0:
        raise DataError(f"{path}: the IDX header is truncated ({len(raw)} bytes for "
                        f"{ndim} dimensions)")
    expected = 4 + 4 * ndim + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise DataError(f"{path}: the header announces shape {tuple(int(d) for d in dims)} "
                        f"({expected} bytes in all) but the file holds {len(raw)} bytes; "
                        "it is truncated or corrupt")
    data = np.frombuffer(raw, dtype, offset=4 + 4 * ndim).reshape(dims)
    return data.astype(dtype.newbyteorder("="), copy=False)


def find_files(directory: Path) -> dict[str, Path]:
    """The four IDX files of a directory by role; a plain copy wins over its .gz twin."""
    if not directory.is_dir():
        raise DataError(f"idx:{directory}: no such directory; expected a directory holding "
                        "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                        "t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]")
    names = sorted(p.name for p in directory.iterdir() if p.is_file() and "idx" in p.name.lower())
    found = {}
    for role, (splits, kinds) in ROLES.items():
        hits = [n for n in names if any(s in n.lower() for s in splits)
                and any(k in n.lower() for k in kinds)]
        hits = [n for n in hits if n + ".gz" not in hits]
        if len(hits) != 1:
            what = f"{len(hits)} candidates ({', '.join(hits)})" if hits else "no file"
            raise DataError(f"idx:{directory}: {what} for the {role}; expected exactly one, "
                            f"named like {'t10k' if 'test' in role else 'train'}-"
                            f"{role.split()[1]}-idx{3 if 'images' in role else 1}-ubyte[.gz]")
        found[role] = directory / hits[0]
    return found


def load_split(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 (N, 1, H, W) (uint8 scaled to [0, 1]) and labels as int64 (N,)."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3:
        raise DataError(f"{images_path}: expected images of shape (N, H, W), "
                        f"found shape {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{labels_path}: expected {len(images)} labels (one per image in "
                        f"{images_path.name}), found shape {labels.shape}")
    if labels.dtype.kind not in "iu" or labels.min(initial=0) < 0:
        raise DataError(f"{labels_path}: expected non-negative integer labels, "
                        f"found {labels.dtype} values from {labels.min()}")
    x = scale_bytes(images) if images.dtype == np.uint8 else images.astype(np.float32)
    return x[:, None], labels.astype(np.int64)


def load_directory(directory: str | Path, name: str, classes: list[str] | None = None
                   ) -> Dataset:
    """The dataset in a directory of four IDX files; classes default to "0".."max label"."""
    files = find_files(Path(directory))
    x_train, y_train = load_split(files["train images"], files["train labels"])
    x_test, y_test = load_split(files["test images"], files["test labels"])
    classes = classes or numbered_classes(y_train, y_test)
    top = max(int(y_train.max(initial=0)), int(y_test.max(initial=0)))
    if top >= len(classes):
        raise DataError(f"{name}: a label is {top} but there are only "
                        f"{plural(len(classes), 'class')}")
    return Dataset(name, x_train, y_train, x_test, y_test, classes, "classify")


def load_fashion_mnist(seed: int = 0) -> Dataset:
    """Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 60,000 train and 10,000 test 28x28
    grayscale garments in 10 classes, from the Debian package. The split is the official one,
    so `seed` is unused."""
    if not FASHION_DIR.is_dir():
        raise DataError(f"fashion-mnist: {FASHION_DIR} is missing; install it: "
                        "apt-get install dataset-fashion-mnist, or give idx:PATH")
    return load_directory(FASHION_DIR, "fashion-mnist", FASHION_CLASSES)


def load(path: str, seed: int = 0) -> Dataset:
    """`idx:PATH`: a directory of MNIST-format files; the split is the files', `seed` unused."""
    return load_directory(path, f"idx:{path}")
