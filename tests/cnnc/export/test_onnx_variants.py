"""Each op in each attribute variant exports to ONNX that onnxruntime runs to cnnc's output;
variants without an exact ONNX form are refused with a line naming the layer and the variant;
and `cnnc export` on the command line."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx_check import check_export

from cnnc.cli import main
from cnnc.compiler import compile_text
from cnnc.errors import CnncError

IMAGE = "[4, 9, 10]"
# (input, layers): one small network per variant
CASES = {
    "conv_symmetric": (IMAGE, "{op: conv, out: 6, kernel: 3, padding: 1}"),
    "conv_per_side": (IMAGE, "{op: conv, out: 6, kernel: 3, padding: [[0, 2], [1, 0]]}"),
    "conv_same_strided": (IMAGE, "{op: conv, out: 6, kernel: 4, stride: 2, padding: same}"),
    "conv_reflect": (IMAGE, "{op: conv, out: 6, kernel: 3, padding: 2, padding_mode: reflect}"),
    "conv_replicate": (IMAGE, ("{op: conv, out: 6, kernel: 3, padding: [1, 2], "
                              "padding_mode: replicate}")),
    "conv_circular": (IMAGE, ("{op: conv, out: 6, kernel: 3, padding: [[1, 2], [2, 0]], "
                             "padding_mode: circular}")),
    "conv_groups_dilation": (IMAGE, ("{op: conv, out: 8, kernel: 3, groups: 2, dilation: 2, "
                                    "bias: false}")),
    "conv_depthwise": (IMAGE, "{op: conv, out: 8, kernel: [3, 1], groups: depthwise}"),
    "conv_1d": ("[3, 17]", "{op: conv, out: 4, kernel: 5, stride: 2}"),
    "conv_3d": ("[2, 5, 6, 7]", "{op: conv, out: 3, kernel: 3, padding: 1}"),
    "conv_transpose": (IMAGE, ("{op: conv_transpose, out: 6, kernel: 3, stride: 2, padding: 1, "
                              "output_padding: 1, groups: 2, dilation: 2}")),
    "maxpool_ceil": (IMAGE, "{op: maxpool, kernel: 3, stride: 2, ceil_mode: true}"),
    "maxpool_pad_dilation": (IMAGE, ("{op: maxpool, kernel: 3, stride: 1, padding: 1, "
                                    "dilation: 2}")),
    "avgpool_include_pad_ceil": (IMAGE, ("{op: avgpool, kernel: 3, stride: 2, padding: 1, "
                                        "ceil_mode: true}")),
    "avgpool_exclude_pad": (IMAGE, ("{op: avgpool, kernel: 3, stride: 2, padding: 1, "
                                   "count_include_pad: false, ceil_mode: true}")),
    "adaptive_avgpool_uneven": (IMAGE, "{op: adaptive_avgpool, size: [4, 3]}"),
    "adaptive_maxpool_uneven": (IMAGE, "{op: adaptive_maxpool, size: [4, 3]}"),
    "adaptive_even": ("[4, 8, 6]", "{op: adaptive_avgpool, size: [4, 3]}"),
    "global_pools": (IMAGE, ("{id: a, op: global_avgpool}\n  - {id: b, op: global_maxpool, "
                            "from: input}\n  - {op: add, from: [a, b]}")),
    "unpool": (IMAGE, ("{id: p, op: maxpool, kernel: 2, stride: 2, padding: 1}\n  - {op: "
                      "maxunpool, kernel: 2, stride: 2, padding: 1, from: [p, p.indices, "
                      "input]}")),
    # 9x10 pools to 5x5 in ceil mode and unpools back to 9x10, under the default 10x10 (a plane
    # of 10x10 and a Slice), and a layer after it needs the unpooling's inferred shape
    "unpool_ceil": (IMAGE, ("{id: p, op: maxpool, kernel: 2, ceil_mode: true}\n  - {op: "
                           "maxunpool, kernel: 2, from: [p, p.indices, input]}\n  - {op: "
                           "conv, out: 3, kernel: 3}")),
    "pad_modes": (IMAGE, ("{op: pad, padding: [1, 2], mode: zeros, value: 0.5}\n  - {op: pad, "
                         "padding: 1, mode: reflect}\n  - {op: pad, padding: [[0, 1], [2, 0]], "
                         "mode: replicate}\n  - {op: pad, padding: 2, mode: circular}")),
    "upsample_nearest_scale": (IMAGE, "{op: upsample, scale: 2}"),
    "upsample_nearest_size": (IMAGE, "{op: upsample, size: [13, 17]}"),
    "upsample_bilinear": (IMAGE, "{op: upsample, scale: 2, mode: bilinear}"),
    "upsample_bilinear_corners": (IMAGE, ("{op: upsample, size: [15, 11], mode: bilinear, "
                                         "align_corners: true}")),
    "upsample_like": (IMAGE, ("{id: d, op: maxpool, kernel: 2}\n  - {op: upsample, mode: "
                             "bilinear, from: [d, input]}")),
    "crop": (IMAGE, "{id: c, op: conv, out: 4, kernel: 3}\n  - {op: crop, from: [input, c]}"),
    "lrn_odd": (IMAGE, "{op: lrn, size: 3, alpha: 0.01, beta: 0.75, k: 2.0}"),
    "lrn_even": (IMAGE, "{op: lrn, size: 4, alpha: 0.01, beta: 0.75, k: 2.0}"),
    "gates": (IMAGE, ("{id: g, op: global_avgpool}\n  - {id: s, op: sigmoid}\n  - {id: t, "
                     "op: one_minus}\n  - {id: m, op: mul, from: [input, s]}\n  - {op: add, "
                     "from: [m, input, t]}")),
    "concat_stack": (IMAGE, ("{id: a, op: relu}\n  - {id: b, op: concat, from: [a, input]}\n"
                            "  - {op: stack, axis: 1, from: [b, b]}")),
    "shapes": (IMAGE, ("{op: permute, dims: [1, 0, 2]}\n  - {op: slice, axis: 1, start: 1, "
                      "stop: -1, step: 2}\n  - {op: reshape, shape: [-1, 10]}\n  - {op: "
                      "flatten}")),
    "activations": (IMAGE, ("{op: leaky_relu, negative_slope: 0.2}\n  - {op: relu6}\n  - {op: "
                           "gelu}\n  - {op: gelu, approximate: tanh}\n  - {op: silu}\n  - {op: "
                           "hardswish}\n  - {op: hardsigmoid}\n  - {op: tanh}\n  - {op: "
                           "softmax}\n  - {op: identity}\n  - {op: dropout, p: 0.3}\n  - {op: "
                           "drop_path, p: 0.2}")),
    "norms": (IMAGE, ("{op: batchnorm}\n  - {op: batchnorm, affine: false}\n  - {op: "
                     "layernorm}\n  - {op: layernorm, affine: false, eps: 0.001}\n  - {op: "
                     "groupnorm, groups: 2}\n  - {op: groupnorm, groups: 4, affine: false}\n"
                     "  - {op: scale, init: 0.5}")),
    "vector": ("[12]", ("{op: linear, out: 7}\n  - {op: batchnorm}\n  - {op: layernorm}\n"
                       "  - {op: linear, out: 3, bias: false}\n  - {op: softmax}")),
}


def network(shape: str, layers: str) -> str:
    return f"name: t\ninput: {shape}\nlayers:\n  - {layers}\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_variant_exports_and_matches_the_runtime(case):
    check_export(compile_text(network(*CASES[case])))


@pytest.mark.parametrize("opset", [17, 21])
def test_every_supported_opset_gives_the_same_outputs(opset):
    for case in ("norms", "adaptive_maxpool_uneven", "unpool", "upsample_bilinear"):
        check_export(compile_text(network(*CASES[case])), opset=opset)


def _without_onnx_form(monkeypatch, op: str) -> None:
    """Pretend `op` has no ONNX form, as a new op would until its emitter is written."""
    import dataclasses

    from cnnc.ops import RULES
    monkeypatch.setitem(RULES, op, dataclasses.replace(RULES[op], onnx=None))


def test_a_layer_without_an_onnx_form_is_refused_naming_layer_and_variant(monkeypatch):
    c = compile_text(network(IMAGE, "{id: norm1, op: lrn, size: 3}"))
    _without_onnx_form(monkeypatch, "lrn")
    with pytest.raises(CnncError) as e:
        check_export(c)
    message = str(e.value)
    assert "layer 'norm1' (lrn)" in message and "op `lrn`" in message
    assert "no exact ONNX form at opset 17" in message and "\n" not in message


def test_a_compiled_network_exports_a_trained_models_weights():
    import numpy as np
    from onnx import numpy_helper

    import cnnc
    c = compile_text(network(IMAGE, "{op: conv, out: 4, kernel: 3}\n  - {op: batchnorm}"))
    model = cnnc.build_model(c, seed=5)
    stored = {t.name: numpy_helper.to_array(t) for t in c.to_onnx(model.tensors()).graph.initializer}
    for name, value in model.tensors().items():
        np.testing.assert_array_equal(stored[name], value)
    assert c.to_onnx(opset=21).opset_import[0].version == 21


def test_a_model_exports_itself_with_its_current_weights():
    import numpy as np
    import onnxruntime as ort
    from onnx import numpy_helper

    import cnnc
    from cnnc_runtime.model import Model
    model = cnnc.build_model(compile_text(network(IMAGE, "{op: conv, out: 4, kernel: 3}\n  - "
                                                  "{op: batchnorm}")), seed=5)
    model.set("conv_1.weight", model.tensors()["conv_1.weight"] * 3)  # as training would
    onnx_model = model.to_onnx(opset=21)
    stored = {t.name: numpy_helper.to_array(t) for t in onnx_model.graph.initializer}
    for name, value in model.tensors().items():
        np.testing.assert_array_equal(stored[name], value)
    x = np.random.default_rng(0).standard_normal((2, 4, 9, 10)).astype(np.float32)
    (y,) = ort.InferenceSession(onnx_model.SerializeToString(),
                                providers=["CPUExecutionProvider"]).run(None, {"input": x})
    np.testing.assert_allclose(y, model.forward(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="cnnc.build_model"):
        Model(model.plan).to_onnx()  # a bare plan does not know its compiled network


def test_an_unsupported_opset_is_refused():
    with pytest.raises(CnncError, match="opset 16 is not supported"):
        check_export(compile_text(network(IMAGE, "{op: relu}")), opset=16)


def test_cli_writes_the_model_and_says_the_weights_are_fresh(tmp_path, capsys):
    out = tmp_path / "net.onnx"
    assert main(["export", "resnet20_cifar", "--input", "3x16x16", "--fold-bn",
                 "-o", str(out)]) == 0
    import onnx
    model = onnx.load(out)
    assert model.graph.input[0].name == "input"
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim][:1] == ["N"]
    assert "conv1.weight" in {t.name for t in model.graph.initializer}
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no --weights" in err[0] and "fresh initialisation" in err[0]


@pytest.mark.parametrize("heads", [False, True])
def test_cli_keeps_training_heads_only_when_asked(tmp_path, capsys, heads):
    import onnx
    out = tmp_path / "net.onnx"
    assert main(["export", "googlenet_aux", "--input", "3x32x32", "-o", str(out),
                 *(["--training-heads"] if heads else [])]) == 0
    model = onnx.load(out)
    names = [o.name for o in model.graph.output]
    props = {p.key: p.value for p in model.metadata_props}
    if heads:
        assert names == ["fc", "aux2.fc2", "aux1.fc2"]
        assert props == {"cnnc.training_only_outputs": "aux2.fc2,aux1.fc2"}
        assert "training-only heads kept" in capsys.readouterr().out
        # onnxruntime runs the heads too, in inference form (no dropout)
        import numpy as np
        import onnxruntime as ort
        x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
        ys = ort.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"]).run(
            None, {"input": x})
        assert [y.shape for y in ys] == [(2, 1000)] * 3
    else:
        assert names == ["fc"] and props == {}
        assert not any(n.name.startswith("aux") for n in model.graph.node)


def test_cli_exports_a_checkpoints_weights(tmp_path, capsys):
    import numpy as np
    import onnx

    import cnnc
    from cnnc_runtime import checkpoint
    m = cnnc.build_model("lenet5", seed=3)
    checkpoint.save(tmp_path / "w.safetensors", m.tensors(), {})
    out = tmp_path / "net.onnx"
    assert main(["export", "lenet5", "--weights", str(tmp_path / "w.safetensors"),
                 "-o", str(out)]) == 0
    assert capsys.readouterr().err == ""
    stored = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(out).graph.initializer}
    name = next(iter(m.params))
    np.testing.assert_array_equal(stored[name], m.params[name])


def test_cli_refusal_exits_1_and_writes_nothing(tmp_path, capsys, monkeypatch):
    spec = tmp_path / "net.yaml"
    spec.write_text(network(IMAGE, "{id: norm1, op: lrn, size: 3}"))
    _without_onnx_form(monkeypatch, "lrn")
    out = tmp_path / "net.onnx"
    assert main(["export", str(spec), "-o", str(out)]) == 1
    assert not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert "layer 'norm1'" in err[-1] and "Traceback" not in "".join(err)


def test_cli_without_onnx_says_what_to_install(tmp_path, capsys, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnx" else real(name, *a))
    assert main(["export", "lenet5", "-o", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install 'cnnc[onnx]'" in err[0]
