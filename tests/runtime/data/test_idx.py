"""IDX files (runtime/data/idx.py): the format, broken files, directory layouts, and the real
Fashion-MNIST from the Debian package."""

import gzip

import numpy as np
import pytest

from cnnc_runtime.data import DataError, idx, load_dataset

FASHION = idx.FASHION_DIR / "train-images-idx3-ubyte.gz"
needs_fashion = pytest.mark.skipif(not FASHION.exists(),
                                   reason="apt-get install dataset-fashion-mnist")


def idx_bytes(a: np.ndarray) -> bytes:
    """An array written in the IDX format: magic, big-endian dims, big-endian data."""
    code = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
            np.float64: 0x0E}[a.dtype.type]
    dims = np.array(a.shape, ">u4").tobytes()
    return bytes([0, 0, code, a.ndim]) + dims + a.astype(a.dtype.newbyteorder(">")).tobytes()


def write_set(directory, names, n_train=6, n_test=4, gz=False):
    """Four IDX files under the given names (train images, train labels, test images, test
    labels); returns the arrays written."""
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (n_train, 5, 3), dtype=np.uint8),
              rng.integers(0, 7, n_train).astype(np.uint8),
              rng.integers(0, 256, (n_test, 5, 3), dtype=np.uint8),
              rng.integers(0, 7, n_test).astype(np.uint8)]
    directory.mkdir(exist_ok=True)
    for name, a in zip(names, arrays):
        data = idx_bytes(a)
        (directory / name).write_bytes(gzip.compress(data) if gz else data)
    return arrays


MNIST_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_every_idx_dtype_reads_back_in_native_order(tmp_path, dtype):
    a = (np.arange(24).reshape(2, 3, 4) * 7 - 50).astype(dtype)
    if dtype == np.uint8:
        a = np.abs(a).astype(dtype)
    (tmp_path / "a").write_bytes(idx_bytes(a))
    got = idx.read_idx(tmp_path / "a")
    np.testing.assert_array_equal(got, a)
    assert got.dtype.isnative and got.shape == (2, 3, 4)


def test_gzip_is_recognised_by_its_magic_bytes_not_the_name(tmp_path):
    a = np.arange(10, dtype=np.int32)
    (tmp_path / "labels").write_bytes(gzip.compress(idx_bytes(a)))  # no .gz suffix
    np.testing.assert_array_equal(idx.read_idx(tmp_path / "labels"), a)


def test_a_truncated_file_names_itself_and_both_sizes(tmp_path):
    data = idx_bytes(np.zeros((4, 2, 2), np.uint8))
    (tmp_path / "short").write_bytes(data[:-3])
    with pytest.raises(DataError, match=r"short: the header announces shape \(4, 2, 2\) "
                                        r"\(32 bytes in all\) but the file holds 29 bytes"):
        idx.read_idx(tmp_path / "short")


def test_a_truncated_gzip_stream_is_a_data_error(tmp_path):
    packed = gzip.compress(idx_bytes(np.arange(5000, dtype=np.int32)))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match="cut.gz: the gzip stream is truncated or corrupt"):
        idx.read_idx(tmp_path / "cut.gz")


@pytest.mark.parametrize("data", [b"", b"\x89PNG\r\n\x1a\n", b"\0\0\x07\x01\0\0\0\1x"])
def test_bytes_that_are_not_idx_are_refused(tmp_path, data):
    (tmp_path / "bad").write_bytes(data)
    with pytest.raises(DataError, match="bad: not an IDX file"):
        idx.read_idx(tmp_path / "bad")


def test_a_header_cut_inside_the_dimensions_is_refused(tmp_path):
    (tmp_path / "head").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DataError, match="head: the IDX header is truncated"):
        idx.read_idx(tmp_path / "head")


@pytest.mark.parametrize("names", [
    MNIST_NAMES,
    ["train-images.idx3-ubyte", "train-labels.idx1-ubyte",  # Kaggle's copies
     "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"],
    ["emnist-digits-train-images-idx3-ubyte", "emnist-digits-train-labels-idx1-ubyte",
     "emnist-digits-test-images-idx3-ubyte", "emnist-digits-test-labels-idx1-ubyte"],
])
def test_a_directory_of_idx_files_loads_under_common_names(tmp_path, names):
    arrays = write_set(tmp_path / "set", names, gz=True)
    ds = load_dataset(f"idx:{tmp_path / 'set'}")
    assert ds.x_train.shape == (6, 1, 5, 3) and ds.x_test.shape == (4, 1, 5, 3)
    np.testing.assert_allclose(ds.x_train[:, 0], arrays[0] / 255, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, arrays[3])
    assert ds.y_train.dtype == np.int64 and ds.x_train.dtype == np.float32
    top = max(arrays[1].max(), arrays[3].max())
    assert ds.classes == [str(i) for i in range(top + 1)]


def test_an_unpacked_copy_next_to_its_gz_is_not_ambiguous(tmp_path):
    write_set(tmp_path, MNIST_NAMES)
    write_set(tmp_path, [n + ".gz" for n in MNIST_NAMES], gz=True)
    assert len(load_dataset(f"idx:{tmp_path}").y_train) == 6


def test_a_missing_file_is_named_with_the_expected_name(tmp_path):
    write_set(tmp_path, MNIST_NAMES)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="no file for the test labels; expected exactly one, "
                                        "named like t10k-labels-idx1-ubyte"):
        load_dataset(f"idx:{tmp_path}")


def test_labels_must_match_the_images_in_number(tmp_path):
    write_set(tmp_path, MNIST_NAMES)
    (tmp_path / MNIST_NAMES[1]).write_bytes(idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DataError, match=r"expected 6 labels .* found shape \(5,\)"):
        load_dataset(f"idx:{tmp_path}")


def test_a_missing_directory_says_what_it_should_hold(tmp_path):
    with pytest.raises(DataError, match="no such directory; expected a directory holding "
                                        "train-images-idx3-ubyte"):
        load_dataset(f"idx:{tmp_path / 'nowhere'}")


def test_missing_fashion_mnist_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(idx, "FASHION_DIR", tmp_path / "absent")
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist, or give idx:PATH"):
        load_dataset("fashion-mnist")


@needs_fashion
def test_fashion_mnist_has_its_official_shapes_labels_and_balance():
    ds = load_dataset("fashion-mnist")
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.y_train.shape == (60000,) and ds.y_test.shape == (10000,)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10  # balanced by construction
    assert np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.x_train.mean() == pytest.approx(0.2860, abs=1e-4)  # the widely quoted mean
