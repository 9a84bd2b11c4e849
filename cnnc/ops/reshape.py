"""Reshape to a given shape (batch axis excluded; one -1 is inferred). Kernel: runtime/kernels/reshape.py."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from cnnc.errors import RuleError
from cnnc.ops import onnx_pointwise
from cnnc.ops.base import IDENTITY_WINDOW, LayerAttrs, Rule, Shape, Window, fmt, global_windows


class ReshapeAttrs(LayerAttrs):
    op: Literal["reshape"]
    shape: list[int] = Field(description="new shape without the batch axis; one entry may be -1")


def infer(a: ReshapeAttrs, xs: tuple[Shape, ...]) -> Shape:
    total = math.prod(xs[0])
    if a.shape.count(-1) > 1 or any(d == 0 or d < -1 for d in a.shape):
        raise RuleError("type", f"`shape` {a.shape} may hold positive sizes and at most one -1",
                        attr="shape")
    known = math.prod(d for d in a.shape if d != -1)
    out = tuple(total // known if d == -1 else d for d in a.shape)
    if math.prod(out) != total:
        raise RuleError("shape", f"cannot reshape {fmt(xs[0])} ({total} elements) to "
                                 f"{fmt(tuple(a.shape))}", attr="shape")
    return out


def kept_axes(x: Shape, y: Shape) -> int:
    """How many last axes the reshape leaves in place: those of the lower-rank side but its
    first, when their sizes agree, since row-major order then maps each position along them
    to itself (a split of the channels into groups, or their merge back); else 0."""
    k = min(len(x), len(y)) - 1
    return k if k >= 1 and x[-k:] == y[-k:] else 0


def receptive(a: ReshapeAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    """The axes left in place are pointwise; each other one may come from anywhere in the map
    (as for flatten)."""
    x = xs[0]
    first_kept = len(x) - kept_axes(x, infer(a, xs))
    return [IDENTITY_WINDOW if i >= first_kept else global_windows((n,))[0]
            for i, n in enumerate(x[1:], start=1)]


def lower(a: ReshapeAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"shape": y}  # -1 resolved


RULE = Rule(ReshapeAttrs, infer, "shape", receptive=receptive, lower=lower, view="always",
            aliases=("view",), onnx=onnx_pointwise.reshape)
