"""`folder:PATH` image folders (runtime/data/folder.py), with PNGs written by Pillow."""

import numpy as np
import pytest

from cnnc_runtime.data import DataError, load_dataset

Image = pytest.importorskip("PIL.Image")


def png(path, value, size=(6, 4), mode="L"):
    """A flat image of one value (a gray level, or an RGB triple) at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value).save(path)


def test_class_folders_become_sorted_classes_split_by_class(tmp_path):
    for i in range(5):
        png(tmp_path / "zebra" / f"{i}.png", 200)
        png(tmp_path / "ant" / f"{i}.png", 10 + i)
    (tmp_path / "ant" / "notes.txt").write_text("not an image")  # skipped
    (tmp_path / "ant" / ".hidden.png").write_bytes(b"")  # skipped
    ds = load_dataset(f"folder:{tmp_path}", seed=0)
    assert ds.classes == ["ant", "zebra"] and ds.task == "classify"
    assert ds.x_train.shape == (8, 1, 4, 6) and ds.x_test.shape == (2, 1, 4, 6)
    assert np.bincount(ds.y_test).tolist() == [1, 1]
    x, y = np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_allclose(x[y == 1], 200 / 255, rtol=1e-6)
    assert sorted(np.round(x[y == 0, 0, 0, 0] * 255).tolist()) == [10, 11, 12, 13, 14]


def test_colour_anywhere_makes_the_whole_set_rgb(tmp_path):
    for i in range(3):
        png(tmp_path / "gray" / f"{i}.png", 90)
        png(tmp_path / "red" / f"{i}.png", (255, 0, 0), mode="RGB")
    ds = load_dataset(f"folder:{tmp_path}")
    x, y = np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test])
    assert x.shape[1] == 3
    np.testing.assert_allclose(x[y == 0], 90 / 255, rtol=1e-6)  # gray repeated into R, G, B
    np.testing.assert_allclose(x[y == 1].mean(axis=(0, 2, 3)), [1, 0, 0])


def test_rgb_files_without_colour_stay_one_channel(tmp_path):
    for i in range(2):
        png(tmp_path / "a" / f"{i}.png", (40, 40, 40), mode="RGB")
        png(tmp_path / "b" / f"{i}.png", (50, 50, 50, 255), mode="RGBA")
    assert load_dataset(f"folder:{tmp_path}").x_train.shape[1] == 1


def test_train_and_test_folders_keep_their_split_and_sizes_follow_the_first_image(tmp_path):
    png(tmp_path / "train" / "bag" / "a.png", 255, size=(8, 8))
    png(tmp_path / "train" / "shoe" / "b.png", 255, size=(16, 12))
    png(tmp_path / "test" / "shoe" / "c.jpg", 255, size=(4, 4))
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.classes == ["bag", "shoe"]
    assert ds.y_train.tolist() == [0, 1] and ds.y_test.tolist() == [1]
    assert ds.x_train.shape == (2, 1, 8, 8) and ds.x_test.shape == (1, 1, 8, 8)
    np.testing.assert_allclose(ds.x_test, 1.0, atol=2 / 255)  # resized flat white stays white


def test_an_unreadable_image_is_named(tmp_path):
    png(tmp_path / "a" / "good.png", 1)
    (tmp_path / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(DataError, match=r"broken.png: cannot read the image .*fix or remove"):
        load_dataset(f"folder:{tmp_path}")


def test_an_empty_class_folder_is_named(tmp_path):
    png(tmp_path / "full" / "a.png", 1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: class folder holds no images"):
        load_dataset(f"folder:{tmp_path}")


def test_a_folder_without_class_subfolders_is_refused(tmp_path):
    png(tmp_path / "a.png", 1)
    with pytest.raises(DataError, match="no class subfolders; expected PATH/<class>/<image>"):
        load_dataset(f"folder:{tmp_path}")


def test_too_few_images_for_two_splits_is_refused(tmp_path):
    png(tmp_path / "only" / "a.png", 1)
    with pytest.raises(DataError, match="1 train and 0 test images"):
        load_dataset(f"folder:{tmp_path}")


def test_a_missing_folder_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such directory"):
        load_dataset(f"folder:{tmp_path / 'nowhere'}")
