"""Upsampling by a scale factor, to a size, or to the spatial size of a second input (as
`crop` takes it): nearest or (bi/tri)linear. Kernel: runtime/kernels/upsample.py."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from cnnc.errors import RuleError
from cnnc.ops import onnx_windows
from cnnc.ops.base import LayerAttrs, Rule, Shape, Window, fmt, per_axis, spatial
from cnnc.ops.labels import axes_text, once_text

_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3}


class UpsampleAttrs(LayerAttrs):
    op: Literal["upsample"]
    scale: PositiveInt | PositiveFloat | list[PositiveInt | PositiveFloat] | None = Field(
        None, description="factor per spatial axis (give `scale` or `size`)")
    size: PositiveInt | list[PositiveInt] | None = Field(None, description="output size")
    mode: Literal["nearest", "linear", "bilinear", "trilinear"] = "nearest"
    align_corners: bool = Field(False, description="(bi/tri)linear only: corner pixels align")


def infer(a: UpsampleAttrs, xs: tuple[Shape, ...]) -> Shape:
    x = xs[0]
    sizes = spatial(x, "upsample")
    n = len(sizes)
    if len(xs) == 2:
        given = "scale" if a.scale is not None else "size" if a.size is not None else None
        if given:
            raise RuleError("type", f"the output size comes from the second input, so `{given}` "
                                    "has nothing to do", attr=given,
                            hint=f"remove `{given}`, or give one input in `from`")
    elif (a.scale is None) == (a.size is None):
        raise RuleError("type", "give exactly one of `scale` and `size` (or a second input in "
                                "`from` whose spatial size to take)", attr="scale")
    if a.mode in _LINEAR_DIMS and _LINEAR_DIMS[a.mode] != n:
        want = {v: k for k, v in _LINEAR_DIMS.items()}[n] if n in _LINEAR_DIMS.values() else None
        raise RuleError("shape", f"mode `{a.mode}` is for {_LINEAR_DIMS[a.mode]}D inputs, this "
                                 f"input has {n} spatial axes",
                        hint=f"use mode `{want}`" if want else None, attr="mode")
    if a.align_corners and a.mode == "nearest":
        raise RuleError("type", "`align_corners` is for the interpolating modes, not `nearest`",
                        attr="align_corners")
    if len(xs) == 2:
        ref = spatial(xs[1], "upsample")
        if len(ref) != n:
            raise RuleError("shape", f"cannot resize {fmt(x)} to the size of {fmt(xs[1])}: they "
                                     "have different numbers of spatial axes", attr="from")
        return (x[0], *ref)
    if a.size is not None:
        return (x[0], *per_axis(a.size, n, "size"))
    scale = per_axis(a.scale, n, "scale") if isinstance(a.scale, list) else (a.scale,) * n
    outs = tuple(math.floor(s * f) for s, f in zip(sizes, scale))
    if min(outs) < 1:
        raise RuleError("size", f"upsample output would be {fmt(outs)} from {fmt(sizes)}",
                        hint="use a larger `scale`, or `size`", attr="scale")
    return (x[0], *outs)


def receptive(a: UpsampleAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    y = infer(a, xs)
    taps = 1 if a.mode == "nearest" else 2  # an output interpolates between two neighbours
    windows = []
    for n_in, n_out in zip(xs[0][1:], y[1:]):
        step = (n_in - 1) / max(n_out - 1, 1) if a.align_corners else n_in / n_out
        first = 0.0 if a.mode == "nearest" or a.align_corners else max(step / 2 - 0.5, 0.0)
        windows.append(Window(taps, step, first + (taps - 1) / 2))
    return windows


def lower(a: UpsampleAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    n = len(y) - 1
    scale = None
    if a.scale is not None:  # PyTorch maps output to input coordinates by 1/scale, not in/out
        scale = tuple(float(f) for f in (a.scale if isinstance(a.scale, list) else [a.scale] * n))
    return {"out": y[1:], "mode": "nearest" if a.mode == "nearest" else "linear",
            "align_corners": a.align_corners, "scale": scale}


def label(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    if a.scale is not None:
        how = f"×{once_text(a.scale)}"
    else:  # a size, or a second input's
        how = f"to {axes_text(a.size, len(y) - 1) if a.size is not None else axes_text(list(y[1:]), 0)}"
    return f"{how} {a.mode}" + (" align" if a.align_corners else "")


# A second input only gives the size, like crop's: `from: [x, skip]`.
RULE = Rule(UpsampleAttrs, infer, "resample", arity=(1, 2), size_inputs=(1,),
            receptive=receptive, lower=lower,
            label=label, aliases=("upsampling", "upsampling2d", "interpolate", "resize"), onnx=onnx_windows.upsample)
