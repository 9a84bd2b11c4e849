"""Transposed convolution ("up-convolution"), 1D/2D/3D. Kernel: runtime/kernels/conv_transpose.py."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from cnnc.errors import RuleError
from cnnc.ops import onnx_windows
from cnnc.ops.base import LayerAttrs, PerAxis, Rule, Shape, Window, fmt, per_axis, spatial
from cnnc.ops.labels import conv_label


class ConvTransposeAttrs(LayerAttrs):
    op: Literal["conv_transpose"]
    out: PositiveInt = Field(description="output channels")
    kernel: PerAxis
    stride: PerAxis = 1
    padding: NonNegativeInt | list[NonNegativeInt] = Field(
        0, description="removed from both ends of the output, as in PyTorch")
    output_padding: NonNegativeInt | list[NonNegativeInt] = Field(
        0, description="added to one end of the output to pick among the sizes a stride allows")
    dilation: PerAxis = 1
    groups: PositiveInt = 1
    bias: bool = True
    in_: PositiveInt | None = Field(None, alias="in",
                                    description="expected input channels; checked when given")


def geometry(a: ConvTransposeAttrs, x: Shape) -> tuple[tuple[int, ...], ...]:
    n = len(spatial(x, "conv_transpose"))
    return tuple(per_axis(getattr(a, name), n, name) for name in
                 ("kernel", "stride", "padding", "output_padding", "dilation"))


def check_channels(a: ConvTransposeAttrs, c_in: int) -> None:
    if a.in_ is not None and a.in_ != c_in:
        raise RuleError("channels", f"expects {a.in_} input channels, got {c_in}",
                        hint=f"set `in: {c_in}`, or change the producer", attr="in")
    for what, count in (("input", c_in), ("output", a.out)):
        if count % a.groups:
            raise RuleError("channels", f"{what} channels ({count}) are not divisible by "
                                        f"groups ({a.groups})", attr="groups")


def infer(a: ConvTransposeAttrs, xs: tuple[Shape, ...]) -> Shape:
    (x,) = xs
    check_channels(a, x[0])
    outs = []
    for size, k, s, p, op, d in zip(x[1:], *geometry(a, x)):
        if op >= max(s, d):
            raise RuleError("shape", f"`output_padding` ({op}) must be smaller than the stride "
                                     f"({s}) or the dilation ({d})", attr="output_padding")
        outs.append((size - 1) * s - 2 * p + d * (k - 1) + op + 1)
    if min(outs) < 1:
        raise RuleError("size", f"conv_transpose output would be {fmt(tuple(outs))} from input "
                                f"{fmt(x[1:])}", hint="reduce `padding`", attr="padding")
    return (a.out, *outs)


def params(a: ConvTransposeAttrs, xs: tuple[Shape, ...]) -> dict[str, Shape]:
    kernel = geometry(a, xs[0])[0]
    weight = (xs[0][0], a.out // a.groups, *kernel)  # PyTorch: (I, O/groups, *K)
    return {"weight": weight} | ({"bias": (a.out,)} if a.bias else {})


def macs(a: ConvTransposeAttrs, xs: tuple[Shape, ...], y: Shape) -> int:
    # Every input element scatters into (O/groups) x prod(kernel) outputs.
    return math.prod(xs[0]) * (a.out // a.groups) * math.prod(geometry(a, xs[0])[0])


def receptive(a: ConvTransposeAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    windows = []
    for k, s, p, _, d in zip(*geometry(a, xs[0])):
        eff = d * (k - 1) + 1
        # Output o gathers inputs i with o = i*s - p + tap: at most ceil(eff/s) of them,
        # centred at (o + p - (eff-1)/2) / s.
        windows.append(Window(math.ceil(eff / s), 1 / s, (p - (eff - 1) / 2) / s))
    return windows


def lower(a: ConvTransposeAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    _, stride, padding, output_padding, dilation = geometry(a, xs[0])
    return {"stride": stride, "dilation": dilation, "padding": padding,
            "output_padding": output_padding, "groups": a.groups}


RULE = Rule(ConvTransposeAttrs, infer, "conv", params=params, macs=macs, receptive=receptive,
            lower=lower, label=conv_label,
            aliases=("convtranspose1d", "convtranspose2d", "convtranspose3d", "deconv", "transposed_conv"), onnx=onnx_windows.conv_transpose)
