"""What every ONNX export test checks: the model passes the full checker, shape inference gives
each layer the shape cnnc computed, and onnxruntime computes what cnnc's runtime computes."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

import cnnc
from cnnc.export.model import to_onnx
from cnnc.ir import keys


def randomised(c, seed: int = 1):
    """A float32 model of `c` whose BatchNorms have random statistics and affine maps (fresh
    ones are the identity, which would hide a swapped mean and variance)."""
    m = cnnc.build_model(c, dtype="float32")
    rng = np.random.default_rng(seed)
    for name, value in m.tensors().items():
        if name.endswith(".weight") and value.ndim >= 2:
            # He's gain: PyTorch's default bound shrinks the signal ~sqrt(6)x a layer, so a
            # deep plain net (VGG) would give its biases alone and hide the layers below
            m.set(name, value * np.sqrt(6))
        elif name.endswith("running_mean"):
            m.set(name, rng.normal(0, 0.1, value.shape))
        elif name.endswith("running_var"):
            m.set(name, rng.uniform(0.5, 1.5, value.shape))
    return m


def check_export(c, fold_bn: bool = False, opset: int = 17, batch: int = 2,
                 rtol: float = 1e-5, exact: bool = False) -> onnx.ModelProto:
    """onnxruntime's outputs against the runtime's, to `rtol`. `exact`: against the runtime in
    float64, with onnxruntime's graph rewrites kept to the basic ones, for a net whose float32
    outputs two correct implementations need not share: near-tied pool maxima that an
    unpooling spreads flip under Winograd's rounding, or under onnxruntime's conv+BN fusion."""
    m = randomised(c)
    model = to_onnx(c, m.tensors(), opset=opset, fold_bn=fold_bn)
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.graph.value_info, *inferred.graph.output]}
    produced = {out for n in model.graph.node for out in n.output}
    for node in c.layers:
        d = c.node(node)
        if node in produced:  # a folded BatchNorm or an aux head has no value of its own
            assert node in shapes, f"shape inference left '{node}' unknown"
            # the batch axis stays symbolic (Resize's inference renames it, `unk__0`)
            first, *rest = shapes[node]
            assert isinstance(first, str) and rest == list(d[keys.SHAPE]), (node, shapes[node])
    x = np.random.default_rng(2).standard_normal((batch, *c.input_shape)).astype(np.float32)
    options = ort.SessionOptions()
    if exact:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        m64 = cnnc.build_model(c, dtype="float64")
        m64.load(m.tensors())
        m = m64
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x})
    want = m.forward(x)
    for name, y in zip((o.name for o in model.graph.output), got):
        ref = np.asarray(m.outputs[name])
        assert y.shape == ref.shape, name
        scale = np.abs(ref).max()
        assert scale > 0, f"{name}: the output is all zeros, which proves nothing"
        assert np.abs(y - ref).max() <= rtol * scale, (name, np.abs(y - ref).max() / scale)
    if batch > 1 and want.size > batch:  # the input reaches the output
        assert np.abs(want[0] - want[1]).max() > 1e-3 * np.abs(want).max()
    return model
