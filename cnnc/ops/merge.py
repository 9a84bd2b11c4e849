"""The shape rule shared by elementwise merges (add, mul): every input has the same shape."""

from __future__ import annotations

from cnnc.errors import RuleError
from cnnc.ops.base import LayerAttrs, Shape, fmt


def infer_elementwise(a: LayerAttrs, xs: tuple[Shape, ...]) -> Shape:
    first = xs[0]
    for i, x in enumerate(xs[1:], start=1):
        if len(x) != len(first):
            raise RuleError("shape", f"{a.op} inputs 0 and {i} have different ranks: "
                                     f"{fmt(first)} and {fmt(x)}", attr="from")
        for axis, (d0, d) in enumerate(zip(first, x)):
            if d0 != d:
                what = "channels" if axis == 0 else f"spatial axis {axis}"
                raise RuleError("shape", f"{a.op} inputs must have equal shapes: input 0 is "
                                         f"{fmt(first)}, input {i} is {fmt(x)} ({what}: {d0} vs {d})",
                                hint="add a 1x1 conv (channels) or a strided conv/pool (size) "
                                     "so both match", attr="from")
    return first
