"""`fashion-scenes` (runtime/data/scenes.py): labels agree with pixels, every scene shows its
garments, and the set is a function of the seed."""

import numpy as np
import pytest

from cnnc_runtime.data import DataError, idx, load_dataset, scenes

needs_fashion = pytest.mark.skipif(not (idx.FASHION_DIR / "train-images-idx3-ubyte.gz").exists(),
                                   reason="apt-get install dataset-fashion-mnist")


@pytest.fixture(scope="module")
def default_set():
    return load_dataset("fashion-scenes")


@needs_fashion
def test_default_scenes_have_the_documented_shapes(default_set):
    ds = default_set
    assert ds.x_train.shape == (12000, 1, 64, 64) and ds.y_train.shape == (12000, 64, 64)
    assert ds.x_test.shape == (1000, 1, 64, 64) and ds.y_test.shape == (1000, 64, 64)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.task == "segment" and ds.classes[0] == "background" and len(ds.classes) == 11


@needs_fashion
def test_every_labelled_pixel_is_bright_and_background_is_black(default_set):
    ds = default_set
    for x, y in ((ds.x_train[:, 0], ds.y_train), (ds.x_test[:, 0], ds.y_test)):
        assert y.min() == 0 and y.max() == 10
        assert (x[y > 0] > scenes.ON).all()
        assert (x[y == 0] == 0).all() and x.max() <= 1.0


@needs_fashion
def test_every_scene_shows_two_to_four_garments_and_all_classes_occur(default_set):
    ds = default_set
    shown = np.array([np.unique(y).size - 1 for y in ds.y_train])  # distinct garment classes
    assert shown.min() == 2 and shown.max() == 4
    assert np.bincount(shown)[2:].min() > 1500  # 2, 3 and 4 garments about equally often
    assert (np.bincount(ds.y_test.ravel(), minlength=11)[1:] > 0).all()


@needs_fashion
def test_scenes_depend_only_on_the_seed():
    a, b, c = (scenes.load(seed, 40, 10) for seed in (1, 1, 2))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_train, c.y_train)


@needs_fashion
def test_train_scenes_use_train_garments_and_test_scenes_test_garments(monkeypatch):
    pools = []
    build = scenes.scenes
    monkeypatch.setattr(scenes, "scenes",
                        lambda images, *rest: pools.append(len(images)) or build(images, *rest))
    scenes.load(0, 20, 10)
    assert pools == [60000, 10000]


def two_flat_garments():
    """Sprites of two flat 28x28 garments: class 3 (value 0.4) under class 7 (value 0.8)."""
    sprites = np.zeros((1, 4, 32, 32), np.float32)
    sprites[0, 0, :28, :28], sprites[0, 1, :28, :28] = 0.4, 0.8
    return sprites, np.array([[3, 7, 0, 1]])


def test_later_garments_cover_earlier_ones_and_labels_follow_the_paint():
    sprites, classes = two_flat_garments()
    x, y = scenes.paint(sprites, classes, np.array([[0, 10, 0, 0]]), np.array([[0, 10, 5, 5]]))
    assert (y[0, 10:38, 10:38] == 8).all() and (x[0, 10:38, 10:38] == 0.8).all()
    assert (y[0, :10, :28] == 4).all() and (x[0, :10, :28] == 0.4).all()
    assert (y[0, 38:] == 0).all() and (x[0, 38:] == 0).all()  # blank slots paint nothing
    area = np.array([[784, 784, 0, 0]])
    assert scenes.visible(y, classes, area).tolist() == [True]  # 784 - 18 * 18 = 460 shown


def test_a_mostly_covered_garment_is_not_visible():
    sprites, classes = two_flat_garments()
    _, y = scenes.paint(sprites, classes, np.array([[0, 4, 0, 0]]), np.array([[0, 4, 0, 0]]))
    assert (y == 4).sum() == 784 - 24 * 24
    assert scenes.visible(y, classes, np.array([[784, 784, 0, 0]])).tolist() == [False]


def test_sprites_hold_resized_garments_of_distinct_classes():
    rng = np.random.default_rng(0)
    images = np.full((20, 28, 28), 255, np.uint8)
    count = np.array([2, 3, 4, 4])
    classes, sizes, sprites = scenes.pick_garments(count, rng, images, np.arange(20) % 10)
    assert all(len(set(row)) == 4 for row in classes.tolist())
    assert ((sizes > 0).sum(axis=1) == count).all()
    assert ((sizes == 0) | ((sizes >= 22) & (sizes <= 32))).all()
    drawn = (sprites > 0).sum(axis=(2, 3))
    np.testing.assert_array_equal(drawn, sizes**2)  # a white square of the drawn size


def test_missing_fashion_mnist_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(idx, "FASHION_DIR", tmp_path / "absent")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-scenes")
