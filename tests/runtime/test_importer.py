"""Importing PyTorch-style state dicts: by name where the names agree, otherwise in definition
order with a warning; every shape checked."""

import warnings

import numpy as np
import pytest

from cnnc import compile_text
from cnnc.lower import lower
from cnnc_runtime import checkpoint
from cnnc_runtime.importer import NamesDiffer, WeightsError, map_state_dict, read_arrays

SPEC = """
name: small
input: [3, 8, 8]
layers:
  - {id: conv, op: conv, out: 4, kernel: 3, bias: false}
  - {id: bn, op: batchnorm}
  - {id: relu, op: relu}
  - {id: flat, op: flatten}
  - {id: fc, op: linear, out: 2}
"""


def torch_style():
    """What `{k: v.numpy() for k, v in model.state_dict().items()}` gives for the same net."""
    rng = np.random.default_rng(0)
    return {"features.0.weight": rng.standard_normal((4, 3, 3, 3)),
            "features.1.weight": rng.standard_normal(4), "features.1.bias": rng.standard_normal(4),
            "features.1.running_mean": rng.standard_normal(4),
            "features.1.running_var": rng.uniform(1, 2, 4),
            "features.1.num_batches_tracked": np.array(3),
            "classifier.weight": rng.standard_normal((2, 144)),
            "classifier.bias": rng.standard_normal(2)}


def plan():
    return lower(compile_text(SPEC))


def test_state_dict_maps_in_definition_order_skipping_the_step_counter():
    with pytest.warns(NamesDiffer, match=r"^7 of 7 names differ from the spec's, so tensors were "
                                         r"matched by position \(shapes checked\): "
                                         r"'features.0.weight' -> 'conv.weight', .* and 4 more$"):
        mapping, arrays = map_state_dict(plan(), torch_style())
    assert [(m.source, m.target) for m in mapping] == [
        ("features.0.weight", "conv.weight"), ("features.1.weight", "bn.weight"),
        ("features.1.bias", "bn.bias"), ("features.1.running_mean", "bn.running_mean"),
        ("features.1.running_var", "bn.running_var"), ("classifier.weight", "fc.weight"),
        ("classifier.bias", "fc.bias")]
    np.testing.assert_array_equal(arrays["fc.weight"], torch_style()["classifier.weight"])


def test_own_names_map_by_name_whatever_the_order():
    p = plan()
    values = [v for k, v in torch_style().items() if "num_batches" not in k]
    ours = dict(reversed(list(zip(p.tensor_order, values))))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # names that agree are no cause for a warning
        mapping, arrays = map_state_dict(p, ours)
    assert all(m.source == m.target for m in mapping)
    np.testing.assert_array_equal(arrays["conv.weight"], values[0])


def test_same_shaped_tensors_are_matched_by_name_not_moved_by_position():
    """Two same-shaped convs listed in the other order: by position they would swap."""
    spec = """
name: twin
input: [4, 6, 6]
layers:
  - {id: a, op: conv, out: 4, kernel: 3, padding: 1}
  - {id: b, op: conv, out: 4, kernel: 3, padding: 1}
"""
    rng = np.random.default_rng(1)
    p = lower(compile_text(spec))
    ours = {n: rng.standard_normal(t.shape) for t in p.params for n in [t.name]}
    swapped = {k: ours[k] for k in ("b.weight", "b.bias", "a.weight", "a.bias")}
    arrays = map_state_dict(p, swapped)[1]
    np.testing.assert_array_equal(arrays["a.weight"], ours["a.weight"])
    with pytest.raises(WeightsError, match="not in the spec, which has 4 tensors"):
        map_state_dict(p, swapped | {"c.weight": np.zeros(1)})
    partly = {"a.weight": ours["b.weight"], "x.bias": ours["b.bias"], "b.weight": ours["a.weight"],
              "a.bias": ours["a.bias"]}
    with pytest.raises(WeightsError, match="'a.bias' would be matched by position onto 'b.bias', "
                                           "but the spec has a 'a.bias' of its own"):
        map_state_dict(p, partly)


def test_the_first_tensor_that_does_not_fit_is_named():
    weights = torch_style()
    weights["classifier.weight"] = np.zeros((2, 100))
    with pytest.raises(WeightsError, match=r"'classifier.weight' has shape 2x100 but 'fc.weight' "
                                           r"\(tensor 6 in order\) needs 2x144"):
        map_state_dict(plan(), weights)
    weights = {n: np.zeros(t.shape) for t in plan().params + plan().state for n in [t.name]}
    weights["fc.weight"] = np.zeros((2, 100))
    with pytest.raises(WeightsError, match=r"'fc.weight' has shape 2x100 but 'fc.weight' needs "):
        map_state_dict(plan(), weights)


def test_missing_and_extra_tensors_are_named():
    weights = torch_style()
    del weights["classifier.bias"]
    with pytest.raises(WeightsError, match=r"end after 6 tensors; 'fc.bias' \(2\)"):
        map_state_dict(plan(), weights)
    weights = torch_style() | {"extra.weight": np.zeros(3)}
    with pytest.raises(WeightsError, match="'extra.weight' and later tensors are left over"):
        map_state_dict(plan(), weights)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_weights_files_keep_their_order(tmp_path, suffix):
    path = tmp_path / f"w{suffix}"
    if suffix == ".npz":
        np.savez(path, **torch_style())
    else:
        checkpoint.save(path, torch_style())
    arrays, verified = read_arrays(path)
    assert list(arrays) == list(torch_style()) and verified  # zip's CRC, or cnnc's checksum


def test_cnnc_import_notes_a_safetensors_file_without_a_checksum(tmp_path, capsys):
    from safetensors.numpy import save_file

    from cnnc.cli import main
    spec, weights = tmp_path / "small.yaml", tmp_path / "hub.safetensors"
    spec.write_text(SPEC)
    values = [v for k, v in torch_style().items() if "num_batches" not in k]
    named = dict(zip(plan().tensor_order, values))  # the spec's own names: mapped by name
    save_file({k: np.asarray(v) for k, v in named.items()}, str(weights))  # no checksum
    assert read_arrays(weights)[1] is False
    assert main(["import", str(spec), str(weights)]) == 0
    assert capsys.readouterr().err == (f"cnnc import: note: {weights} has no checksum (not "
                                       "written by cnnc); its data is not verified\n")


def test_unreadable_weights_files_are_refused(tmp_path):
    bad = tmp_path / "w.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(checkpoint.CheckpointError, match="not a readable .npz"):
        read_arrays(bad)
    with pytest.raises(checkpoint.CheckpointError, match=".safetensors or .npz"):
        read_arrays(tmp_path / "w.pt")


def test_cnnc_import_prints_the_mapping_and_writes_a_checkpoint(tmp_path, capsys):
    from cnnc.cli import main
    spec, weights, out = tmp_path / "small.yaml", tmp_path / "w.npz", tmp_path / "c.safetensors"
    spec.write_text(SPEC)
    np.savez(weights, **torch_style())
    assert main(["import", str(spec), str(weights), "-o", str(out)]) == 0
    printed, err = capsys.readouterr()
    assert "classifier.weight        ->  fc.weight                2x144" in printed
    assert err.startswith("cnnc import: warning: 7 of 7 names differ from the spec's")
    assert err.endswith("; the mapping is listed below\n")
    assert "7 tensors mapped" in printed
    tensors, meta = checkpoint.load(out)
    assert list(tensors) == list(plan().tensor_order) and meta["spec"] == "small"
    np.savez(weights, **{k: v for k, v in torch_style().items() if "classifier" not in k})
    assert main(["import", str(spec), str(weights)]) == 1
    assert "end after 5 tensors; 'fc.weight'" in capsys.readouterr().err


def test_cnnc_import_refuses_a_corrupt_checkpoint(tmp_path, capsys):
    from cnnc.cli import main
    spec, weights = tmp_path / "small.yaml", tmp_path / "w.safetensors"
    spec.write_text(SPEC)
    checkpoint.save(weights, torch_style())
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0x80  # the data changes, the header does not
    weights.write_bytes(bytes(blob))
    assert main(["import", str(spec), str(weights)]) == 1
    err = capsys.readouterr().err
    assert err == (f"cnnc import: error: {weights}: tensor data does not match its checksum: the "
                   "file is corrupt (changed after it was written); use another copy or write it "
                   "again\n")
