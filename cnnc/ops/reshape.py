"""Reshape to a given shape (batch axis excluded; one -1 is inferred). Kernel: runtime/kernels/reshape.py."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from cnnc.errors import RuleError
from cnnc.ops.base import LayerAttrs, Rule, Shape, fmt
from cnnc.ops.flatten import receptive


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


def lower(a: ReshapeAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"shape": y}  # -1 resolved


RULE = Rule(ReshapeAttrs, infer, "shape", receptive=receptive, lower=lower, view="always",
            aliases=("view",))
