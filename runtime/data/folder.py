"""`folder:PATH`: images sorted into one subfolder per class, read with Pillow.

Layouts: PATH/<class>/<image> (split 80/20, seeded and stratified by class), or PATH/train/<class>/
and PATH/test/<class>/ (the given split). Classes are the sorted subfolder names. Files that
Pillow does not register as images, and hidden files, are skipped; a file with an image suffix
that cannot be decoded is an error, because a silently smaller class skews training.

Every image is resized (bilinear) to the size of the first one, in sorted class and file order:
folders collected from the web rarely agree on sizes, and `fit_to_input` sizes the set for the
network afterwards. The set is grayscale when every image is (by mode, or RGB with three equal
channels), else RGB, with alpha dropped; pixels are scaled to [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnnc_runtime.data.dataset import DataError, Dataset, scale_bytes, split_indices

GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def class_dirs(root: Path) -> dict[str, Path]:
    """Visible subfolders of root by name."""
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}


def image_files(directory: Path, suffixes: set[str]) -> list[Path]:
    """The image files directly inside a class folder, sorted; an empty folder is an error."""
    files = [p for p in sorted(directory.iterdir())
             if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes]
    if not files:
        raise DataError(f"{directory}: class folder holds no images; expected files ending in "
                        ".png, .jpg, .bmp, ... (or remove the folder)")
    return files


def read_image(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    """One image as uint8 (H, W) gray or (H, W, 3) RGB, resized to size (W, H) when given."""
    from PIL import Image  # imported by `load`, which reports its absence

    try:
        with Image.open(path) as im:
            im = im.convert("L" if im.mode in GRAY_MODES else "RGB")
            if size is not None and im.size != size:
                im = im.resize(size, Image.Resampling.BILINEAR)
            return np.asarray(im)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: cannot read the image ({e}); fix or remove the file") from None


def read_split(root: Path, classes: list[str], suffixes: set[str],
               size: tuple[int, int] | None) -> tuple[list[np.ndarray], list[int]]:
    """All images under root/<class>/ with their class ids (index into `classes`)."""
    images, labels = [], []
    for name, directory in class_dirs(root).items():
        for path in image_files(directory, suffixes):
            images.append(read_image(path, size))
            size = size or (images[0].shape[1], images[0].shape[0])
            labels.append(classes.index(name))
    return images, labels


def is_gray(image: np.ndarray) -> bool:
    """Whether a (H, W) or (H, W, 3) uint8 image carries no colour."""
    return image.ndim == 2 or bool((image == image[..., :1]).all())


def to_array(images: list[np.ndarray], gray: bool) -> np.ndarray:
    """uint8 images -> float32 (N, 1|3, H, W) in [0, 1]."""
    if gray:
        x = np.stack([im if im.ndim == 2 else im[..., 0] for im in images])[:, None]
    else:
        x = np.stack([np.dstack([im] * 3) if im.ndim == 2 else im for im in images])
        x = x.transpose(0, 3, 1, 2)  # (N, 3, H, W)
    return scale_bytes(np.ascontiguousarray(x))


def load(path: str, seed: int = 0) -> Dataset:
    """`folder:PATH` -> a classification Dataset with x (N, 1|3, H, W) in [0, 1]."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError("folder datasets are read with Pillow, which is not installed: "
                        "pip install Pillow") from None
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"folder:{path}: no such directory; expected one subfolder per class "
                        "holding its images")
    suffixes = {s for s, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    subdirs = class_dirs(root)
    roots = [subdirs["train"], subdirs["test"]] if {"train", "test"} <= subdirs.keys() else [root]
    classes = sorted({name for r in roots for name in class_dirs(r)})
    if not classes:
        raise DataError(f"folder:{path}: no class subfolders; expected PATH/<class>/<image> "
                        "or PATH/train/<class>/ and PATH/test/<class>/")
    images, labels = read_split(roots[0], classes, suffixes, None)
    split = len(images)
    if len(roots) == 2:
        size = (images[0].shape[1], images[0].shape[0])
        test_images, test_labels = read_split(roots[1], classes, suffixes, size)
        images, labels = images + test_images, labels + test_labels
    x, y = to_array(images, all(map(is_gray, images))), np.array(labels, np.int64)
    if len(roots) == 2:
        train, test = np.arange(split), np.arange(split, len(y))
    else:
        train, test = split_indices(y, seed)
    if not (train.size and test.size):
        raise DataError(f"folder:{path}: {train.size} train and {test.size} test images; "
                        "both splits need at least one, so add images")
    return Dataset(f"folder:{path}", x[train], y[train], x[test], y[test], classes, "classify")
