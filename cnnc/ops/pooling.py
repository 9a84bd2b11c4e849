"""Shape and receptive-field rules shared by the pooling ops (max and average differ only in kernels)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, NonNegativeInt, PositiveInt

from cnnc.errors import RuleError
from cnnc.ops.base import (
    LayerAttrs,
    PerAxis,
    Shape,
    Window,
    check_window_fits,
    conv_windows,
    global_windows,
    per_axis,
    resolve_padding,
    spatial,
    window_out,
)


class PoolAttrs(LayerAttrs):
    kernel: PerAxis
    stride: PerAxis | None = Field(None, description="default: the kernel size")
    padding: NonNegativeInt | list[NonNegativeInt | list[NonNegativeInt]] = 0
    ceil_mode: bool = False


def geometry(a: PoolAttrs, x: Shape) -> tuple[tuple[int, ...], ...]:
    sizes = spatial(x, a.op)
    n = len(sizes)
    kernel = per_axis(a.kernel, n, "kernel")
    stride = kernel if a.stride is None else per_axis(a.stride, n, "stride")
    dilation = per_axis(getattr(a, "dilation", 1), n, "dilation")
    pads = resolve_padding(a.padding, sizes, kernel, stride, dilation)
    for k, (before, after) in zip(kernel, pads):
        if max(before, after) > k // 2:  # PyTorch refuses this: a window of only padding
            raise RuleError("shape", f"padding {max(before, after)} is more than half the "
                                     f"kernel ({k})", hint="use padding <= kernel // 2",
                            attr="padding")
    return kernel, stride, dilation, pads


def infer(a: PoolAttrs, xs: tuple[Shape, ...]) -> Shape:
    (x,) = xs
    kernel, stride, dilation, pads = geometry(a, x)
    outs = tuple(window_out(s, k, st, p, d, a.ceil_mode)
                 for s, k, st, p, d in zip(x[1:], kernel, stride, pads, dilation))
    check_window_fits(a.op, x[1:], outs, kernel, pads, dilation)
    return (x[0], *outs)


def dropped(a: PoolAttrs, xs: tuple[Shape, ...], y: Shape) -> tuple[int, ...]:
    """Input positions per spatial axis past the end of the last window: floor mode leaves
    them out; padding after the input does not count (it is not the input)."""
    kernel, stride, dilation, pads = geometry(a, xs[0])
    return tuple(max(0, size + before - ((n - 1) * s + d * (k - 1) + 1))
                 for size, n, k, s, d, (before, _) in
                 zip(xs[0][1:], y[1:], kernel, stride, dilation, pads))


def receptive(a: PoolAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    kernel, stride, dilation, pads = geometry(a, xs[0])
    return conv_windows(kernel, stride, pads, dilation)


def lower(a: PoolAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    """Window geometry with the output sizes, so kernels need not repeat the ceil_mode rule."""
    kernel, stride, dilation, pads = geometry(a, xs[0])
    return {"kernel": kernel, "stride": stride, "padding": pads, "dilation": dilation,
            "out": y[1:]}


def lower_adaptive(a: AdaptiveAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"out": y[1:]}


def infer_global(a: LayerAttrs, xs: tuple[Shape, ...]) -> Shape:
    (x,) = xs
    return (x[0],) + (1,) * len(spatial(x, a.op))  # keeps the axes, like AdaptiveAvgPool(1)


def receptive_global(a: LayerAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    return global_windows(xs[0][1:])


class AdaptiveAttrs(LayerAttrs):
    size: PositiveInt | list[PositiveInt] = Field(description="output size per spatial axis")


def infer_adaptive(a: AdaptiveAttrs, xs: tuple[Shape, ...]) -> Shape:
    (x,) = xs
    return (x[0], *per_axis(a.size, len(spatial(x, a.op)), "size"))


def receptive_adaptive(a: AdaptiveAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    windows = []
    for n, m in zip(xs[0][1:], per_axis(a.size, len(xs[0]) - 1, "size")):
        # PyTorch's bins [floor(i*n/m), ceil((i+1)*n/m)) are ceil((r + n) / m) wide, where
        # r = i*n mod m runs over the multiples of gcd(n, m) below m: the widest has r = m - g.
        widest = -(-(m - math.gcd(n, m) + n) // m)
        first = -(-n // m)
        windows.append(Window(widest, n / m, (first - 1) / 2))
    return windows
