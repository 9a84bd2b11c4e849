"""Safetensors files: round trips, interoperability with the reference library, atomic writes
and clear errors on broken files."""

import hashlib
import json
import struct

import numpy as np
import pytest

from cnnc_runtime import checkpoint
from cnnc_runtime.checkpoint import CheckpointError


def tensors():
    rng = np.random.default_rng(0)
    return {"conv1.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
            "bn1.running_var": rng.uniform(1, 2, 4), "step": np.array(7, dtype=np.int64),
            "a.bias": np.arange(4, dtype=np.float16)}


def test_round_trip_keeps_values_dtypes_order_and_metadata(tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save(path, tensors(), {"spec": "lenet5"})
    back, meta = checkpoint.load(path)
    assert list(back) == list(tensors()) and meta.keys() == {"spec", checkpoint.CHECKSUM}
    assert meta["spec"] == "lenet5"
    for name, value in tensors().items():
        assert back[name].dtype == value.dtype
        np.testing.assert_array_equal(back[name], value)
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file was renamed away


def test_files_interoperate_with_the_safetensors_library(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "theirs.safetensors"
    checkpoint.save(ours, tensors())
    for name, value in st.load_file(str(ours)).items():
        np.testing.assert_array_equal(value, tensors()[name])
    st.save_file(tensors(), str(theirs), metadata={"k": "v"})
    back, meta = checkpoint.load(theirs)
    assert meta == {"k": "v"} and set(back) == set(tensors())


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save(path, tensors())
    with pytest.raises(TypeError):
        checkpoint.save(path, {"ok": np.ones(2), "bad": np.array(["text"])})
    assert set(checkpoint.load(path)[0]) == set(tensors())
    assert not list(tmp_path.glob(".*tmp"))


def plain(path, arrays):
    """A safetensors file as other tools write it: no checksum in the metadata."""
    header, data = {"__metadata__": {"k": "v"}}, b""
    for name, a in arrays.items():
        header[name] = {"dtype": checkpoint.CODES[a.dtype], "shape": list(a.shape),
                        "data_offsets": [len(data), len(data) + a.nbytes]}
        data += a.tobytes()
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def test_flipped_data_bytes_are_refused_by_the_checksum(tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save(path, tensors(), {"spec": "lenet5"})
    blob = bytearray(path.read_bytes())
    blob[-5] ^= 0xFF  # inside the last tensor's data; the header is intact
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    message = str(e.value)
    assert message.startswith(f"{path}: tensor data does not match its checksum: the file is "
                              "corrupt") and "\n" not in message


def test_a_file_without_a_checksum_loads_and_says_it_is_unverified(tmp_path):
    path = tmp_path / "theirs.safetensors"
    plain(path, tensors())
    back, meta = checkpoint.load(path)
    assert meta == {"k": "v"} and checkpoint.CHECKSUM not in meta
    for name, value in tensors().items():
        np.testing.assert_array_equal(back[name], value)


def test_the_checksum_covers_exactly_the_data_section(tmp_path):
    path = tmp_path / "m.safetensors"
    checkpoint.save(path, tensors())
    blob = path.read_bytes()
    (size,) = struct.unpack("<Q", blob[:8])
    meta = json.loads(blob[8:8 + size])["__metadata__"]
    assert meta[checkpoint.CHECKSUM] == hashlib.sha256(blob[8 + size:]).hexdigest()


def corrupt(path, how):
    blob = bytearray(path.read_bytes())
    (size,) = struct.unpack("<Q", blob[:8])
    if how == "truncated":
        return bytes(blob[:-10])
    if how == "header_json":
        blob[9] = ord("!")
        return bytes(blob)
    if how == "huge_header":
        return struct.pack("<Q", 1 << 40) + bytes(blob[8:])
    if how == "offsets":
        header = json.loads(blob[8:8 + size])
        header["conv1.weight"]["data_offsets"] = [0, 3]
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text)) + text + bytes(blob[8 + size:])
    return b"abc"


@pytest.mark.parametrize("how, message", [
    ("truncated", "inconsistent data offsets|truncated"),
    ("header_json", "not valid JSON"),
    ("huge_header", "not a safetensors file, or truncated"),
    ("offsets", "inconsistent data offsets"),
    ("tiny", "not a safetensors file"),
])
def test_broken_files_name_the_file_and_the_problem(tmp_path, how, message):
    path = tmp_path / "m.safetensors"
    checkpoint.save(path, tensors())
    path.write_bytes(corrupt(path, how))
    with pytest.raises(CheckpointError, match=message) as e:
        checkpoint.load(path)
    assert str(path) in str(e.value)


def test_a_missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="cannot read"):
        checkpoint.load(tmp_path / "nope.safetensors")
