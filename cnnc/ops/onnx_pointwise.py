"""ONNX emitters of the ops without windows: activations, norms, linear maps, merges and shape
changes (Rule.onnx; the interface is in cnnc/ops/onnx_forms.py)."""

from __future__ import annotations

import math
from typing import Any

from cnnc.ops.onnx_forms import Emitter, Shape, per_channel


def relu6(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("Clip", [e.inputs[0], e.floats(0.0, ()), e.floats(6.0, ())], e.output)


def silu(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("Mul", [e.inputs[0], e.node("Sigmoid", [e.inputs[0]])], e.output)


def one_minus(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("Sub", [e.floats(1.0, ()), e.inputs[0]], e.output)


def gelu(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    """x * Phi(x) in elementary nodes (ONNX's Gelu node comes only with opset 20):
    Phi = (1 + erf(x / sqrt 2)) / 2, or PyTorch's tanh form (1 + tanh(sqrt(2/pi) (x + 0.044715
    x^3))) / 2."""
    x = e.inputs[0]
    if e.lowered["approximate"] == "tanh":
        cube = e.node("Mul", [e.node("Mul", [x, x]), x])
        inner = e.node("Add", [x, e.node("Mul", [cube, e.floats(0.044715, ())])])
        t = e.node("Tanh", [e.node("Mul", [inner, e.floats(math.sqrt(2 / math.pi), ())])])
    else:
        t = e.node("Erf", [e.node("Div", [x, e.floats(math.sqrt(2.0), ())])])
    half = e.node("Mul", [x, e.floats(0.5, ())])
    e.node("Mul", [half, e.node("Add", [t, e.floats(1.0, ())])], e.output)


def _affine_or(e: Emitter, name: str, c: int, value: float) -> str:
    """A norm's scale or shift, or the constant it stands for when the norm has none."""
    return e.param(name) or e.floats([value] * c, (c,))


def batchnorm(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    c = xs[0][0]
    e.node("BatchNormalization",
           [e.inputs[0], _affine_or(e, "weight", c, 1.0), _affine_or(e, "bias", c, 0.0),
            e.param("running_mean"), e.param("running_var")], e.output,
           epsilon=e.lowered["eps"])


def layernorm(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    """Over the channels at each position: LayerNormalization on the last axis, the channels
    moved there and back for a feature map."""
    c, rank = xs[0][0], len(xs[0]) + 1
    x = e.inputs[0]
    scale, shift = _affine_or(e, "weight", c, 1.0), _affine_or(e, "bias", c, 0.0)
    if rank == 2:
        e.node("LayerNormalization", [x, scale, shift], e.output, axis=-1,
               epsilon=e.lowered["eps"])
        return
    last = [0, *range(2, rank), 1]
    back = [0, rank - 1, *range(1, rank - 1)]
    moved = e.node("Transpose", [x], perm=last)
    normed = e.node("LayerNormalization", [moved, scale, shift], axis=-1,
                    epsilon=e.lowered["eps"])
    e.node("Transpose", [normed], e.output, perm=back)


def groupnorm(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    """InstanceNormalization of the (N, groups, rest) view, then the per-channel affine map
    (ONNX's GroupNormalization changed its scale's meaning at opset 21; this form is exact at
    every opset)."""
    g, rank = e.lowered["groups"], len(xs[0]) + 1
    x = e.inputs[0]
    grouped = e.node("Reshape", [x, e.ints([0, g, -1])])
    normed = e.node("InstanceNormalization",
                    [grouped, e.floats([1.0] * g, (g,)), e.floats([0.0] * g, (g,))],
                    epsilon=e.lowered["eps"])
    if e.param("weight") is None:
        e.node("Reshape", [normed, e.node("Shape", [x])], e.output)
        return
    back = e.node("Reshape", [normed, e.node("Shape", [x])])
    scaled = e.node("Mul", [back, per_channel(e, "weight", rank)])
    e.node("Add", [scaled, per_channel(e, "bias", rank)], e.output)


def lrn(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    """ONNX's LRN sums channels c - (size-1)//2 .. c + size//2; PyTorch's (and cnnc's) window
    is c - size//2 .. c + (size-1)//2. They agree for an odd size; an even one is built from
    its parts: the squares averaged over a zero-padded window of `size` channels."""
    k = e.lowered
    size, x = k["size"], e.inputs[0]
    if size % 2:
        e.node("LRN", [x], e.output, size=size, alpha=k["alpha"], beta=k["beta"], bias=k["k"])
        return
    square = e.node("Mul", [x, x])
    planes = e.node("Reshape", [square, e.ints([0, 1, xs[0][0], -1])])  # (N, 1, C, rest)
    mean = e.node("AveragePool", [planes], kernel_shape=[size, 1],
                  pads=[size // 2, 0, (size - 1) // 2, 0], count_include_pad=1)
    mean = e.node("Reshape", [mean, e.node("Shape", [x])])
    d = e.node("Add", [e.node("Mul", [mean, e.floats(k["alpha"], ())]), e.floats(k["k"], ())])
    e.node("Div", [x, e.node("Pow", [d, e.floats(k["beta"], ())])], e.output)


def linear(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    weights = [p for p in (e.param("weight"), e.param("bias")) if p is not None]
    e.node("Gemm", [e.inputs[0], *weights], e.output, transB=1)


def scale(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("Mul", [e.inputs[0], per_channel(e, "weight", len(xs[0]) + 1)], e.output)


def softmax(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("Softmax", [e.inputs[0]], e.output, axis=1)


def _chain(op_type: str) -> Any:
    """An elementwise merge of two or more inputs as a chain of binary nodes (broadcasting
    as NumPy: the IR shapes agree in rank, the batch axis is shared)."""
    def emit(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
        acc = e.inputs[0]
        for i, other in enumerate(e.inputs[1:], start=2):
            acc = e.node(op_type, [acc, other], e.output if i == len(e.inputs) else None)
    return emit


add = _chain("Add")
mul = _chain("Mul")


def concat(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("Concat", list(e.inputs), e.output, axis=1)


def stack(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    axis = e.lowered["axis"]
    parts = [e.node("Unsqueeze", [x, e.ints([axis])]) for x in e.inputs]
    e.node("Concat", parts, e.output, axis=axis)


def flatten(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("Flatten", [e.inputs[0]], e.output, axis=1)


def reshape(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("Reshape", [e.inputs[0], e.ints([0, *e.lowered["shape"]])], e.output)  # 0: keep N


def permute(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("Transpose", [e.inputs[0]], e.output, perm=[0, *(d + 1 for d in e.lowered["dims"])])


def slice_(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    k = e.lowered
    e.node("Slice", [e.inputs[0], e.ints([k["start"]]), e.ints([k["stop"]]),
                     e.ints([k["axis"]]), e.ints([k["step"]])], e.output)
