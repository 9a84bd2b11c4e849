"""`fashion-scenes`: a small segmentation set made of real Fashion-MNIST garments.

Each scene is a 64x64 black canvas holding 2 to 4 garments of different classes, each a 28x28
Fashion-MNIST image resized (bilinear) to 22..32 pixels and placed at a random position, fully
inside the canvas. A garment covers the pixels where its intensity is above ON (0.1); there
the image takes its intensity and the label map its class + 1, with later garments on top.
Everything else is background: intensity 0, label 0. So there are 11 classes, "background" and
the 10 garments, and every labelled pixel is brighter than ON.

While some garment of a scene shows less than MIN_VISIBLE of its pixels, the scene gets new
positions, and after PLACEMENTS tries new garments (as many as before, so 2, 3 and 4 stay
equally common): every garment of a scene can be seen. Train scenes use the Fashion-MNIST
train images and test scenes the test images, so no garment appears in both splits. The default
12000 train scenes hold about 36,000 of the 60,000 training garments (6000 overfit a 16-128
channel U-Net within 7 epochs); with the 1000 test scenes they take under two seconds to build,
so nothing is cached.
"""

from __future__ import annotations

import numpy as np

from cnnc_runtime.data import idx
from cnnc_runtime.data.dataset import DataError, Dataset, scale_bytes
from cnnc_runtime.data.fit import resize_bilinear

CANVAS = 64
GARMENTS = (2, 4)         # garments per scene, inclusive range
SIZES = (22, 32)          # garment side in pixels, inclusive range (Fashion-MNIST's is 28)
ON = 0.1                  # intensity above which a garment pixel is part of the garment
MIN_VISIBLE = 0.5         # fraction of a garment's pixels that must stay uncovered
PLACEMENTS = 10           # positions tried for a scene's garments before new ones are picked
TRAIN_SCENES, TEST_SCENES = 12000, 1000


def pick_garments(count: np.ndarray, rng: np.random.Generator, images: np.ndarray,
                  labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Garments for scenes of `count` (n,) garments each: class ids (n, 4), distinct within a
    scene; sizes (n, 4); and sprites float32 (n, 4, 32, 32), each garment resized to its size
    at the top-left of its sprite. Slots past a scene's count have size 0 and blank sprites."""
    n, slots, k = len(count), GARMENTS[1], len(idx.FASHION_CLASSES)
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(k + 1))  # where each class begins
    classes = np.argsort(rng.random((n, k)), axis=1)[:, :slots]  # (n, 4), distinct per scene
    counts = starts[classes + 1] - starts[classes]
    image = order[starts[classes] + (rng.random((n, slots)) * counts).astype(np.int64)]
    size = rng.integers(SIZES[0], SIZES[1] + 1, (n, slots))
    size[np.arange(slots) >= count[:, None]] = 0
    sprites = np.zeros((n, slots, SIZES[1], SIZES[1]), np.float32)
    for s in range(SIZES[0], SIZES[1] + 1):  # one resize per size, all slots together
        at = np.nonzero(size == s)
        g = scale_bytes(images[image[at]])[:, None]  # (m, 1, 28, 28)
        sprites[(*at, slice(0, s), slice(0, s))] = resize_bilinear(g, (s, s))[:, 0]
    return classes, size, sprites


def paint(sprites: np.ndarray, classes: np.ndarray, top: np.ndarray, left: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Scenes with each slot's sprite at (top, left), later slots on top -> x float32
    (n, 64, 64) and y uint8 (n, 64, 64): garment pixels above ON, and class + 1 there."""
    n, slots, size = sprites.shape[:3]
    x = np.zeros((n, CANVAS, CANVAS), np.float32)
    y = np.zeros((n, CANVAS, CANVAS), np.uint8)
    window = np.arange(size)
    for slot in range(slots):
        g = sprites[:, slot]  # (n, 32, 32)
        on = g > ON  # only these are written, and they lie inside the canvas
        r = np.arange(n)[:, None] * CANVAS + top[:, slot, None] + window  # (n, 32) canvas rows
        at = (r[:, :, None] * CANVAS + left[:, slot, None, None] + window)[on]  # flat indices
        x.reshape(-1)[at] = g[on]
        y.reshape(-1)[at] = np.broadcast_to(classes[:, slot, None, None] + 1, on.shape)[on]
    return x, y


def visible(y: np.ndarray, classes: np.ndarray, area: np.ndarray) -> np.ndarray:
    """(n,) whether each garment of a scene keeps MIN_VISIBLE of its `area` (n, 4) pixels
    in the label maps y (n, 64, 64); classes (n, 4) are distinct within a scene."""
    seen = np.stack([(y == (c + 1).astype(np.uint8)[:, None, None]).sum(axis=(1, 2))
                     for c in classes.T], axis=1)  # (n, 4)
    return (seen >= MIN_VISIBLE * area).all(axis=1)


def scenes(images: np.ndarray, labels: np.ndarray, n: int, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """n scenes from these garments -> x float32 (n, 1, 64, 64), y int64 (n, 64, 64)."""
    count = rng.integers(GARMENTS[0], GARMENTS[1] + 1, n)
    classes, sizes, sprites = pick_garments(count, rng, images, labels)
    x = np.empty((n, CANVAS, CANVAS), np.float32)
    y = np.empty((n, CANVAS, CANVAS), np.uint8)
    todo, attempt = np.arange(n), 0
    while todo.size:
        attempt += 1
        if attempt % PLACEMENTS == 0:  # some sets of big garments barely fit: pick new ones
            classes[todo], sizes[todo], sprites[todo] = pick_garments(count[todo], rng, images,
                                                                      labels)
        area = (sprites[todo] > ON).sum(axis=(2, 3))  # (m, 4) pixels of each garment
        room = CANVAS - sizes[todo] + 1  # top-left corners that keep a garment inside
        top = (rng.random(room.shape) * room).astype(np.int64)
        left = (rng.random(room.shape) * room).astype(np.int64)
        xs, ys = paint(sprites[todo], classes[todo], top, left)
        ok = visible(ys, classes[todo], area)
        x[todo[ok]], y[todo[ok]] = xs[ok], ys[ok]
        todo = todo[~ok]
    return x[:, None], y.astype(np.int64)


def load(seed: int = 0, train_scenes: int = TRAIN_SCENES, test_scenes: int = TEST_SCENES
         ) -> Dataset:
    """`fashion-scenes`: x float32 (N, 1, 64, 64) in [0, 1], y int64 (N, 64, 64) in 0..10."""
    if not idx.FASHION_DIR.is_dir():
        raise DataError(f"fashion-scenes is built from Fashion-MNIST, but {idx.FASHION_DIR} is "
                        "missing; install it: apt-get install dataset-fashion-mnist")
    files = idx.find_files(idx.FASHION_DIR)
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    x_train, y_train = scenes(idx.read_idx(files["train images"]),
                              idx.read_idx(files["train labels"]), train_scenes, train_rng)
    x_test, y_test = scenes(idx.read_idx(files["test images"]),
                            idx.read_idx(files["test labels"]), test_scenes, test_rng)
    return Dataset("fashion-scenes", x_train, y_train, x_test, y_test,
                   ["background", *idx.FASHION_CLASSES], "segment")
