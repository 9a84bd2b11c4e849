"""--flip and --crop: what each does to a batch and its label maps, and that class labels and
the shapes stay as they are."""

import numpy as np

from cnnc_runtime.augment import mirror_half, random_crop


def test_flip_mirrors_half_the_batch_with_its_label_maps():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((400, 1, 6, 7)).astype(np.float32)
    y = rng.integers(0, 11, (400, 6, 7))
    fx, fy = x.copy(), y.copy()
    mirror_half(fx, fy, np.random.default_rng(1))
    mirrored = (fx != x).any(axis=(1, 2, 3))
    assert 150 < mirrored.sum() < 250
    np.testing.assert_array_equal(fx[mirrored], x[mirrored][..., ::-1])
    np.testing.assert_array_equal(fy[mirrored], y[mirrored][..., ::-1])
    np.testing.assert_array_equal(fx[~mirrored], x[~mirrored])
    np.testing.assert_array_equal(fy[~mirrored], y[~mirrored])
    labels = y[:, 0, 0].copy()  # class labels stay as they are
    mirror_half(x, labels, np.random.default_rng(1))
    np.testing.assert_array_equal(labels, y[:, 0, 0])


def padded_window(a, pad, fill, top, left):
    """The reference: a (C, H, W) padded by `pad` with `fill` per channel, then cut at
    (top, left) to (H, W)."""
    c, h, w = a.shape
    p = np.broadcast_to(fill.reshape(c, 1, 1), (c, h + 2 * pad, w + 2 * pad)).copy()
    p[:, pad:pad + h, pad:pad + w] = a
    return p[:, top:top + h, left:left + w]


def test_crop_is_a_random_window_of_the_padded_image_and_moves_the_label_map_with_it():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 2, 6, 5)).astype(np.float32)
    y = rng.integers(1, 11, (300, 6, 5))  # no background, so the padding shows as 0
    fill = np.array([-1.5, 2.0], np.float32)
    cx, cy = random_crop(x, y, 2, fill, np.random.default_rng(3))
    assert cx.shape == x.shape and cy.shape == y.shape and cx.dtype == x.dtype
    offsets = set()
    for i in range(len(x)):
        # the offset shows in the label map: where its padding (class 0) lies
        found = [(t, l) for t in range(5) for l in range(5)
                 if np.array_equal(padded_window(y[i][None], 2, np.zeros(1), t, l)[0], cy[i])]
        assert len(found) == 1, i
        (top, left), = found
        np.testing.assert_array_equal(cx[i], padded_window(x[i], 2, fill, top, left))
        offsets.add((top, left))
    assert len(offsets) == 25  # every shift from -2 to 2 on both axes occurs


def test_crop_leaves_class_labels_and_shifts_signals_too():
    x = np.arange(2 * 1 * 10, dtype=np.float32).reshape(2, 1, 10) + 1  # 1-D signals (N, C, L)
    labels = np.array([3, 7])
    cx, cy = random_crop(x, labels, 3, np.zeros(1, np.float32), np.random.default_rng(1))
    np.testing.assert_array_equal(cy, labels)
    for a, b in zip(x[:, 0], cx[:, 0]):
        assert sum(np.array_equal(np.pad(a, 3)[o:o + 10], b) for o in range(7)) == 1


def test_the_same_generator_seed_gives_the_same_crops():
    x = np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32)
    y = np.zeros(16, np.int64)
    fill = np.zeros(1, np.float32)
    a = random_crop(x, y, 4, fill, np.random.default_rng([0, 5, 2]))[0]
    b = random_crop(x, y, 4, fill, np.random.default_rng([0, 5, 2]))[0]
    c = random_crop(x, y, 4, fill, np.random.default_rng([0, 6, 2]))[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
