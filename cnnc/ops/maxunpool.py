"""Max unpooling, 1D/2D/3D: values put back where a max pooling found them. Kernel:
runtime/kernels/maxunpool.py.

Inputs `[values, indices]` or `[values, indices, like]`: `indices` is a maxpool's extra
output (`pool1.indices`), flat within each (n, c) plane of the pooling's input (PyTorch's
convention, so MaxUnpool1d/2d/3d agree exactly); `like`, when given, sets the output's spatial
size (PyTorch's `output_size`), usually the pooling's input. Every other output cell is zero.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, NonNegativeInt

from cnnc.errors import RuleError
from cnnc.ops import onnx_windows
from cnnc.ops.base import LayerAttrs, PerAxis, Rule, Shape, Window, fmt, per_axis, spatial
from cnnc.ops.labels import window_text


class MaxUnpoolAttrs(LayerAttrs):
    op: Literal["maxunpool"]
    kernel: PerAxis
    stride: PerAxis | None = Field(None, description="default: the kernel size")
    padding: NonNegativeInt | list[NonNegativeInt] = 0


def geometry(a: MaxUnpoolAttrs, x: Shape) -> tuple[tuple[int, ...], ...]:
    n = len(spatial(x, a.op))
    kernel = per_axis(a.kernel, n, "kernel")
    stride = kernel if a.stride is None else per_axis(a.stride, n, "stride")
    return kernel, stride, per_axis(a.padding, n, "padding")


def infer(a: MaxUnpoolAttrs, xs: tuple[Shape, ...]) -> Shape:
    x, indices, *like = xs
    kernel, stride, padding = geometry(a, x)
    if indices != x:
        raise RuleError("shape", f"values {fmt(x)} and indices {fmt(indices)} differ in shape",
                        hint="read the indices of the pooling that made the values: "
                             "`from: [x, pool1.indices]`")
    default = tuple((s - 1) * st - 2 * p + k for s, k, st, p in zip(x[1:], kernel, stride, padding))
    if min(default) < 1:
        raise RuleError("size", f"output would be {fmt(default)}: `padding` {fmt(padding)} "
                                f"eats the whole window", attr="padding")
    if not like:
        return (x[0], *default)
    size = spatial(like[0], a.op)
    if len(size) != len(default):
        raise RuleError("shape", f"cannot unpool {fmt(x)} to the size of {fmt(like[0])}: they "
                                 "have different numbers of spatial axes")
    # PyTorch's range: within one stride of the default size, which is what a pooling with
    # these kernel, stride and padding (floor or ceil mode) can have come from
    for want, d, st in zip(size, default, stride):
        if not d - st < want < d + st:
            raise RuleError(
                "size", f"cannot unpool {fmt(x[1:])} to {fmt(size)}: with this kernel, stride "
                        f"and padding the output is less than a stride ({fmt(stride)}) away "
                        f"from {fmt(default)}", hint="the third input is the pooling's input, "
                                                     "whose size the output takes")
    return (x[0], *size)


def receptive(a: MaxUnpoolAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    # Like a transposed window: output o takes a value from an input i with o = i*s - p + tap,
    # at most ceil(k/s) of them (the indices pick one), centred at (o + p - (k-1)/2) / s.
    kernel, stride, padding = geometry(a, xs[0])
    return [Window(-(-k // s), 1 / s, (p - (k - 1) / 2) / s)
            for k, s, p in zip(kernel, stride, padding)]


def lower(a: MaxUnpoolAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"out": y[1:]}


def label(a: MaxUnpoolAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return " ".join(window_text(a, len(y) - 1, a.kernel if a.stride is None else a.stride))


RULE = Rule(MaxUnpoolAttrs, infer, "pool", arity=(2, 3), size_inputs=(2,),
            receptive=receptive, lower=lower,
            index_inputs=(1,), label=label,
            aliases=("maxunpool1d", "maxunpool2d", "maxunpool3d", "max_unpool"), onnx=onnx_windows.maxunpool)
