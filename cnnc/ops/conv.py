"""Convolution, 1D/2D/3D by the input's rank. Kernel: runtime/kernels/conv.py."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, PositiveInt

from cnnc.errors import RuleError
from cnnc.ops import onnx_windows
from cnnc.ops.base import (
    LayerAttrs,
    Padding,
    PaddingMode,
    PerAxis,
    Rule,
    Shape,
    Window,
    check_window_fits,
    conv_windows,
    per_axis,
    resolve_padding,
    spatial,
    window_out,
)
from cnnc.ops.conv_algorithm import conv_algorithm
from cnnc.ops.labels import conv_label


class ConvAttrs(LayerAttrs):
    op: Literal["conv"]
    out: PositiveInt = Field(description="output channels")
    kernel: PerAxis
    stride: PerAxis = 1
    padding: Padding = 0
    dilation: PerAxis = 1
    groups: PositiveInt | Literal["depthwise"] = Field(
        1, description="channel groups; `depthwise` means one group per input channel")
    bias: bool = True
    padding_mode: PaddingMode = "zeros"
    in_: PositiveInt | None = Field(None, alias="in",
                                    description="expected input channels; checked when given")


def geometry(a: ConvAttrs, x: Shape) -> tuple[tuple[int, ...], ...]:
    """(kernel, stride, dilation, pads) with one entry per spatial axis of `x`."""
    sizes = spatial(x, "conv")
    n = len(sizes)
    kernel, stride = per_axis(a.kernel, n, "kernel"), per_axis(a.stride, n, "stride")
    dilation = per_axis(a.dilation, n, "dilation")
    return kernel, stride, dilation, resolve_padding(a.padding, sizes, kernel, stride, dilation)


def groups(a: ConvAttrs, c_in: int) -> int:
    """The group count, checked against both channel counts."""
    g = c_in if a.groups == "depthwise" else a.groups
    if a.in_ is not None and a.in_ != c_in:
        raise RuleError("channels", f"expects {a.in_} input channels, got {c_in}",
                        hint=f"set `in: {c_in}`, or change the producer to give {a.in_} channels",
                        attr="in")
    for what, count in (("input", c_in), ("output", a.out)):
        if count % g:
            raise RuleError("channels", f"{what} channels ({count}) are not divisible by "
                                        f"groups ({g})", attr="groups",
                            hint="groups must divide both the input and the output channels")
    return g


def infer(a: ConvAttrs, xs: tuple[Shape, ...]) -> Shape:
    (x,) = xs
    kernel, stride, dilation, pads = geometry(a, x)
    groups(a, x[0])
    if a.padding_mode in ("reflect", "circular"):
        for size, (before, after) in zip(x[1:], pads):
            # reflect mirrors inside the input (pad < size); circular wraps it once (pad <= size)
            limit = size - 1 if a.padding_mode == "reflect" else size
            if max(before, after) > limit:
                need = "smaller than" if a.padding_mode == "reflect" else "at most"
                raise RuleError("size", f"{a.padding_mode} padding must be {need} the input size: "
                                        f"padding {max(before, after)}, input {size}",
                                attr="padding")
    sizes = x[1:]
    outs = tuple(map(window_out, sizes, kernel, stride, pads, dilation))
    check_window_fits("conv", sizes, outs, kernel, pads, dilation)
    return (a.out, *outs)


def params(a: ConvAttrs, xs: tuple[Shape, ...]) -> dict[str, Shape]:
    c_in = xs[0][0]
    kernel = geometry(a, xs[0])[0]
    weight = (a.out, c_in // groups(a, c_in), *kernel)  # PyTorch: (O, I/groups, *K)
    return {"weight": weight} | ({"bias": (a.out,)} if a.bias else {})


def macs(a: ConvAttrs, xs: tuple[Shape, ...], y: Shape) -> int:
    c_in = xs[0][0]
    return math.prod(y) * (c_in // groups(a, c_in)) * math.prod(geometry(a, xs[0])[0])


def receptive(a: ConvAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    kernel, stride, dilation, pads = geometry(a, xs[0])
    return conv_windows(kernel, stride, pads, dilation)


def lower(a: ConvAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    _, stride, dilation, pads = geometry(a, xs[0])
    return {"stride": stride, "dilation": dilation, "padding": pads,
            "groups": groups(a, xs[0][0]), "padding_mode": a.padding_mode}


RULE = Rule(ConvAttrs, infer, "conv", params=params, macs=macs, receptive=receptive, lower=lower,
            label=conv_label, algorithm=conv_algorithm,
            aliases=("conv1d", "conv2d", "conv3d", "convolution"), onnx=onnx_windows.conv)
