"""One ONNX node -> cnnc spec entries: the mapping table MAPPINGS (op type -> a small function),
the reverse of the emitters in cnnc/ops/onnx_*.py and of torch.onnx.export's forms.

A mapping returns a list of Entry (usually one), Alias (the node passes its input on: Identity,
inference Dropout) or Missing (what cnnc lacks, for the one-line report). Shapes are cnnc's:
batch axis excluded, so ONNX axis = IR axis + 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnc.onnx_import import ops_norms as norms
from cnnc.onnx_import import ops_windows as windows
from cnnc.onnx_import import patterns, patterns_channels_last, patterns_lrn, patterns_norm
from cnnc.onnx_import.mapped import Alias, Entry, Mapped, Mapping, Missing, weights
from cnnc.onnx_import.reader import Graph, Node


def gemm(n: Node, g: Graph) -> Mapped:
    """A fully connected layer: Y = alpha * X @ B' + beta * C, B' = B.T when transB."""
    if n.attrs.get("transA", 0):
        return Missing("attribute `transA` (cnnc's linear reads samples as rows)")
    params = weights(n, g, ("weight", "bias"))
    if isinstance(params, Missing):
        return params
    alpha, beta = (np.float32(n.attrs.get(k, 1.0)) for k in ("alpha", "beta"))
    w = params["weight"] if alpha == 1 else params["weight"] * alpha  # no copy of a large fc
    params["weight"] = w if n.attrs.get("transB", 0) else np.ascontiguousarray(w.T)
    if "bias" in params:
        out = params["weight"].shape[0]
        bias = params["bias"] * beta
        if bias.size != out:
            return Missing(f"bias of shape {list(bias.shape)} (cnnc adds one per output)")
        params["bias"] = bias.reshape(out)
    return _linear(n, g, params)


def matmul(n: Node, g: Graph) -> Mapped:
    b = g.const(n.inputs[1])
    if b is None or b.ndim != 2:
        return Missing("a product of two computed tensors (cnnc has linear: X @ constant)")
    return _linear(n, g, {"weight": np.ascontiguousarray(b.T.astype(np.float32))})


def _linear(n: Node, g: Graph, params: dict[str, np.ndarray]) -> Mapped:
    if len(g.shapes.get(n.inputs[0], (0, 0))) != 1:
        return Missing("an input that is not a vector per sample (flatten it first)")
    op = {"op": "linear", "out": int(params["weight"].shape[0])}
    return [Entry(op | ({} if "bias" in params else {"bias": False}), n.inputs[:1], params)]


def _plain(op: str, **fixed: Any) -> Mapping:
    def mapping(n: Node, g: Graph) -> Mapped:
        return [Entry({"op": op, **fixed}, n.inputs[:1])]
    return mapping


def _merge(op: str) -> Mapping:
    def mapping(n: Node, g: Graph) -> Mapped:
        if any(g.const(v) is not None for v in n.inputs):
            return Missing(f"a constant operand (cnnc's `{op}` merges computed tensors)")
        return [Entry({"op": op}, n.inputs)]
    return mapping


def gelu(n: Node, g: Graph) -> Mapped:
    """ONNX's Gelu (opset 20) and patterns_norm.GELU, cnnc's and torch's elementary forms."""
    tanh = n.attrs.get("approximate", b"none") == b"tanh"
    return [Entry({"op": "gelu"} | ({"approximate": "tanh"} if tanh else {}), n.inputs[:1])]


def stack(n: Node, g: Graph) -> Mapped:
    """patterns_norm.STACK: its `axis` an ONNX axis, the batch axis 0."""
    if n.attrs["axis"] == 0:
        return Missing("a new axis before the batch axis")
    mapped = _merge("stack")(n, g)
    if isinstance(mapped, list):
        mapped[0].op["axis"] = n.attrs["axis"] - 1
    return mapped


def clip(n: Node, g: Graph) -> Mapped:
    bounds = [n.attrs.get("min"), n.attrs.get("max")]
    for i, value in enumerate(n.inputs[1:3]):
        if value:
            array = g.const(value)
            if array is None:
                return Missing("computed bounds")
            bounds[i] = float(array)
    if bounds == [0.0, 6.0]:
        return [Entry({"op": "relu6"}, n.inputs[:1])]
    if bounds[0] == 0.0 and bounds[1] is None:
        return [Entry({"op": "relu"}, n.inputs[:1])]
    return Missing(f"bounds {bounds} (cnnc has relu [0, inf) and relu6 [0, 6])")


def leaky_relu(n: Node, g: Graph) -> Mapped:
    alpha = float(f"{float(np.float32(n.attrs.get('alpha', 0.01))):.6g}")
    return [Entry({"op": "leaky_relu", "negative_slope": alpha}, n.inputs[:1])]


def hard_sigmoid(n: Node, g: Graph) -> Mapped:
    alpha, beta = n.attrs.get("alpha", 0.2), n.attrs.get("beta", 0.5)
    if not (np.isclose(alpha, 1 / 6) and np.isclose(beta, 0.5)):
        return Missing(f"alpha {alpha:g}, beta {beta:g} (cnnc's hardsigmoid is x/6 + 1/2)")
    return [Entry({"op": "hardsigmoid"}, n.inputs[:1])]


def sub(n: Node, g: Graph) -> Mapped:
    one = g.const(n.inputs[0])
    if one is not None and one.size == 1 and float(one) == 1.0:
        return [Entry({"op": "one_minus"}, n.inputs[1:])]
    return Missing("a difference other than 1 - x (cnnc has one_minus)")


def softmax(n: Node, g: Graph) -> Mapped:
    rank = len(g.shapes[n.inputs[0]]) + 1
    if n.attrs.get("axis", -1) not in (1, 1 - rank):
        return Missing(f"`axis` {n.attrs.get('axis', -1)} (cnnc's softmax is over channels)")
    return [Entry({"op": "softmax"}, n.inputs[:1])]


def concat(n: Node, g: Graph) -> Mapped:
    rank = len(g.shapes[n.inputs[0]]) + 1
    if n.attrs["axis"] not in (1, 1 - rank):
        return Missing(f"`axis` {n.attrs['axis']} (cnnc concatenates channels)")
    return _merge("concat")(n, g)


def flatten(n: Node, g: Graph) -> Mapped:
    if n.attrs.get("axis", 1) != 1:
        return Missing(f"`axis` {n.attrs['axis']} (cnnc keeps the batch axis alone)")
    return [Entry({"op": "flatten"}, n.inputs[:1])]


def reshape(n: Node, g: Graph) -> Mapped:
    """Reshape, Squeeze and Unsqueeze: flatten when the result is a vector, else a reshape to
    the shape inference gave (the batch axis must stay in front)."""
    y = g.shapes.get(n.outputs[0])
    if y is None:
        return Missing("an output shape that shape inference could not fix")
    if len(y) == 1 and len(g.shapes[n.inputs[0]]) > 1:
        return [Entry({"op": "flatten"}, n.inputs[:1])]
    return [Entry({"op": "reshape", "shape": list(y)}, n.inputs[:1])]


def transpose(n: Node, g: Graph) -> Mapped:
    perm = list(n.attrs["perm"])
    if perm[0] != 0:
        return Missing(f"`perm` {perm} moves the batch axis")
    return [Entry({"op": "permute", "dims": [d - 1 for d in perm[1:]]}, n.inputs[:1])]


def _alias(n: Node, g: Graph) -> Mapped:
    return Alias(n.inputs[0])


MAPPINGS: dict[str, Mapping] = {
    "Conv": windows.conv,
    "ConvTranspose": windows.conv_transpose,
    "Gemm": gemm,
    "MatMul": matmul,
    "BatchNormalization": norms.batchnorm,
    "LayerNormalization": norms.layernorm,
    "InstanceNormalization": norms.instance_norm,
    "GroupNormalization": norms.group_normalization,
    "MaxPool": windows.pool("maxpool"),
    "AveragePool": windows.pool("avgpool"),
    "GlobalAveragePool": _plain("global_avgpool"),
    "GlobalMaxPool": _plain("global_maxpool"),
    "Relu": _plain("relu"),
    "Clip": clip,
    "LeakyRelu": leaky_relu,
    "Sigmoid": _plain("sigmoid"),
    "Tanh": _plain("tanh"),
    "HardSigmoid": hard_sigmoid,
    "HardSwish": _plain("hardswish"),
    "Softmax": softmax,
    "Add": _merge("add"),
    "Mul": norms.mul,
    "Sub": sub,
    "Concat": concat,
    "Flatten": flatten,
    "Reshape": reshape,
    "Squeeze": reshape,
    "Unsqueeze": reshape,
    "Transpose": transpose,
    "LRN": norms.lrn,
    "Pad": windows.pad,
    "Slice": windows.slice_,
    "Resize": windows.resize,
    "Identity": _alias,
    patterns.SILU: _plain("silu"),
    patterns.ADAPTIVE: windows.adaptive_avgpool,
    **windows.FORMS,
    "Dropout": _alias,
    "Gelu": gelu,
    patterns_channels_last.LAYERNORM: norms.layernorm_channels,
    patterns_norm.GROUPNORM: norms.groupnorm,
    patterns_lrn.LRN: norms.lrn_window,
    patterns_norm.STACK: stack,
}
