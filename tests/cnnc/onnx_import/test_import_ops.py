"""The per-op mapping (cnnc/onnx_import/ops.py) on one-node graphs, the report of every
unsupported node at once, the layer ids, and the command line."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from import_check import imported
from onnx import TensorProto, helper, numpy_helper

from cnnc.cli import main
from cnnc.errors import CnncError
from cnnc.onnx_import.convert import layer_id
from cnnc.onnx_import.reader import Node

rng = np.random.default_rng(0)


def graph(nodes, x_shape, y_shape, inits=()):
    g = helper.make_graph(
        nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *x_shape])],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT,
                                       ["N", *y_shape])],
        initializer=[numpy_helper.from_array(a.astype(np.float32), name) for name, a in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def entries(model) -> list[str]:
    _, _, text = imported(model)
    return [line.strip() for line in text.splitlines() if line.startswith("  - ")]


def test_conv_with_asymmetric_pads_groups_and_bias():
    w, b = rng.standard_normal((4, 1, 3, 3)), rng.standard_normal(4)
    model = graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], name="/enc/conv1/Conv",
                                    kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 1, 1],
                                    group=2)],
                  (2, 8, 8), (4, 4, 4), [("w", w), ("b", b)])
    c, tensors, _ = imported(model)
    assert entries(model) == [("- {id: enc_conv1, op: conv, out: 4, kernel: 3, stride: 2, "
                               "padding: [[0, 1], [1, 1]], groups: 2}")]
    assert c.output_shape == (4, 4, 4)
    assert np.array_equal(tensors["enc_conv1.weight"], w.astype(np.float32))


def test_gemm_without_trans_b_transposes_and_scales_the_weight():
    w, b = rng.standard_normal((6, 3)), rng.standard_normal(3)
    model = graph([helper.make_node("Gemm", ["x", "w", "b"], ["y"], name="fc", alpha=2.0)],
                  (6,), (3,), [("w", w), ("b", b)])
    c, tensors, _ = imported(model)
    assert entries(model) == ["- {id: fc, op: linear, out: 3}"]
    assert np.allclose(tensors["fc.weight"], 2 * w.T)
    assert c.totals.params == 6 * 3 + 3


@pytest.mark.parametrize(("bounds", "op"), [((0.0, 6.0), "relu6"), ((0.0, None), "relu")])
def test_clip_is_relu6_or_relu(bounds, op):
    inits = [(n, np.asarray(v)) for n, v in zip(("lo", "hi"), bounds) if v is not None]
    names = ["x", *(n for n, _ in inits)]
    model = graph([helper.make_node("Clip", names, ["y"], name="act")], (3, 4, 4), (3, 4, 4),
                  inits)
    assert entries(model) == [f"- {{id: act, op: {op}}}"]


def test_maxpool_with_ceil_mode_and_avgpool_pads():
    model = graph([helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[3, 3],
                                    strides=[2, 2], ceil_mode=1),
                   helper.make_node("AveragePool", ["p"], ["y"], name="avg",
                                    kernel_shape=[2, 2], pads=[1, 1, 1, 1])],
                  (3, 8, 8), (3, 5, 5))
    assert entries(model) == ["- {id: pool, op: maxpool, kernel: 3, stride: 2, ceil_mode: true}",
                              ("- {id: avg, op: avgpool, kernel: 2, stride: 1, padding: 1, "
                               "count_include_pad: false}")]


def test_dropout_and_identity_add_no_layer_and_merges_name_their_inputs():
    model = graph([helper.make_node("Relu", ["x"], ["a"], name="/relu/Relu"),
                   helper.make_node("Dropout", ["a"], ["d"], name="/drop/Dropout"),
                   helper.make_node("Sigmoid", ["d"], ["s"], name="/gate/Sigmoid"),
                   helper.make_node("Add", ["s", "d"], ["y"], name="/block/Add")],
                  (3, 4, 4), (3, 4, 4))
    assert entries(model) == ["- {id: relu, op: relu}", "- {id: gate, op: sigmoid}",
                              "- {id: block_add, op: add, from: [gate, relu]}"]


def test_every_unsupported_node_is_reported_at_once():
    model = graph([helper.make_node("Erf", ["x"], ["a"], name="erf1"),
                   helper.make_node("Clip", ["a", "lo", "hi"], ["b"], name="clip1"),
                   helper.make_node("Elu", ["b"], ["y"], name="elu1")],
                  (3, 4, 4), (3, 4, 4), [("lo", np.asarray(-1.0)), ("hi", np.asarray(1.0))])
    with pytest.raises(CnncError) as e:
        imported(model)
    text = str(e.value)
    assert len(text.splitlines()) == 3
    assert "node 'erf1' (Erf): cnnc has no layer for this op" in text
    assert "node 'clip1' (Clip): bounds [-1.0, 1.0]" in text
    assert "node 'elu1' (Elu): cnnc has no layer for this op" in text


@pytest.mark.parametrize(("name", "op", "want"), [
    ("/layer1/layer1.0/conv1/Conv", "Conv", "layer1_0_conv1"),
    ("stage2.0.conv1", "Conv", "stage2_0_conv1"),
    ("/layer1/layer1.0/Add", "Add", "layer1_0_add"),
    ("/flatten/Flatten", "Flatten", "flatten"),
    ("/0/Relu", "Relu", "relu_0"),
])
def test_layer_ids_come_from_node_names(name, op, want):
    assert layer_id(Node(name, op, ("x",), ("y",), {})) == want


def test_command_writes_a_spec_and_a_checkpoint(tmp_path, capsys):
    w = rng.standard_normal((4, 3, 3, 3))
    model = graph([helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]),
                   helper.make_node("Relu", ["c"], ["y"], name="relu")],
                  (3, 8, 8), (4, 6, 6), [("w", w)])
    onnx.save(model, tmp_path / "net.onnx")
    out, ckpt = tmp_path / "net.yaml", tmp_path / "net.safetensors"
    assert main(["import-onnx", str(tmp_path / "net.onnx"), "-o", str(out),
                 "--weights", str(ckpt)]) == 0
    assert main(["compile", str(out)]) == 0
    from cnnc_runtime import checkpoint
    tensors, _ = checkpoint.load(ckpt)
    assert list(tensors) == ["conv.weight"]
    assert np.array_equal(tensors["conv.weight"], w.astype(np.float32))
    assert "1 tensors" in capsys.readouterr().out
    # the checkpoint fits the spec: the export reads it back
    assert main(["export", str(out), "--weights", str(ckpt), "-o", str(tmp_path / "b.onnx")]) == 0
    back = onnx.load(tmp_path / "b.onnx")
    assert np.array_equal(numpy_helper.to_array(back.graph.initializer[0]), tensors["conv.weight"])


def test_command_without_onnx_says_what_to_install(tmp_path, capsys, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else real(name, *a))
    assert main(["import-onnx", str(tmp_path / "x.onnx"), "-o", str(tmp_path / "x.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'cnnc[onnx]'" in err[0]


def test_command_refuses_an_unsupported_model_in_one_line_per_node(tmp_path, capsys):
    model = graph([helper.make_node("Erf", ["x"], ["y"], name="erf1")], (3, 4, 4), (3, 4, 4))
    onnx.save(model, tmp_path / "net.onnx")
    out = tmp_path / "net.yaml"
    assert main(["import-onnx", str(tmp_path / "net.onnx"), "-o", str(out)]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error[import]: node 'erf1' (Erf): cnnc has no layer for this op"]
    assert not out.exists()


@pytest.mark.parametrize("option", ["-o", "--weights"])
def test_command_refuses_an_output_with_no_directory_before_writing_anything(tmp_path, capsys,
                                                                              option):
    model = graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], (3, 4, 4), (3, 4, 4))
    onnx.save(model, tmp_path / "net.onnx")
    paths = {"-o": tmp_path / "net.yaml", "--weights": tmp_path / "net.safetensors"}
    paths[option] = tmp_path / "missing" / paths[option].name
    args = [a for o, p in paths.items() for a in (o, str(p))]
    assert main(["import-onnx", str(tmp_path / "net.onnx"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{option} '" in err[0] and "no directory" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.onnx"]  # nothing written
