"""The shape rule shared by elementwise merges (add, mul): inputs of one rank whose sizes agree
on every axis or are 1 there, broadcast as NumPy and PyTorch do: a channel gate of shape (C,1,1)
scales every position of a (C,H,W) map."""

from __future__ import annotations

from cnnc.errors import RuleError
from cnnc.ops.base import LayerAttrs, Shape, fmt

_HINTS = {
    "add": "add a 1x1 conv (channels) or a strided conv/pool (size) so both match",
    "mul": "a gate broadcasts over the axes where it has size 1, e.g. a (C,1,1) gate scales a "
           "(C,H,W) map; reshape a vector gate to (C,1,1) first",
}


def infer_elementwise(a: LayerAttrs, xs: tuple[Shape, ...]) -> Shape:
    out = list(xs[0])
    for i, x in enumerate(xs[1:], start=1):
        if len(x) != len(out):
            raise RuleError("shape", f"{a.op} inputs 0 and {i} have different ranks: "
                                     f"{fmt(xs[0])} and {fmt(x)}", attr="from",
                            hint=_HINTS["mul"] if a.op == "mul" else None)
        for axis, (d0, d) in enumerate(zip(out, x)):
            if d0 != d and 1 not in (d0, d):
                what = "channels" if axis == 0 else f"spatial axis {axis}"
                before = (f"input 0 is {fmt(xs[0])}" if tuple(out) == xs[0] else
                          f"inputs 0 to {i - 1} broadcast to {fmt(tuple(out))}")
                raise RuleError("shape", f"{a.op} inputs must have equal shapes (or size 1 to "
                                         f"broadcast): {before}, input {i} is {fmt(x)} ({what}: "
                                         f"{d0} vs {d})",
                                hint=_HINTS.get(a.op, _HINTS["add"]), attr="from")
            out[axis] = max(d0, d)
    return tuple(out)
