"""Group normalisation: channels split into groups, each normalised over its channels and
positions, one sample at a time. Kernel: runtime/kernels/groupnorm.py."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from cnnc.errors import RuleError
from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, Shape, affine_identity, fmt


class GroupNormAttrs(LayerAttrs):
    op: Literal["groupnorm"]
    groups: PositiveInt = Field(description="channel groups, each normalised on its own")
    eps: PositiveFloat = 1e-5
    affine: bool = Field(True, description="learn a scale (weight) and a shift (bias) per channel")


def infer(a: GroupNormAttrs, xs: tuple[Shape, ...]) -> Shape:
    c = xs[0][0]
    if c % a.groups:
        divisors = [d for d in range(1, c + 1) if c % d == 0]
        below = max(d for d in divisors if d < a.groups)
        above = [d for d in divisors if d > a.groups]
        near = f"{below} or {above[0]}" if above else str(below)
        raise RuleError("channels", f"channels ({c}) are not divisible by groups ({a.groups})",
                        hint=f"`groups` must divide the {c} channels: {near} would", attr="groups")
    if math.prod(xs[0]) == a.groups:  # PyTorch refuses it too
        raise RuleError("size", f"each of the {a.groups} groups holds a single value of the "
                                f"{fmt(xs[0])} input, which normalises to 0 whatever the input",
                        hint="use fewer groups", attr="groups")
    return xs[0]


def params(a: GroupNormAttrs, xs: tuple[Shape, ...]) -> dict[str, Shape]:
    c = xs[0][0]
    return {"weight": (c,), "bias": (c,)} if a.affine else {}


def lower(a: GroupNormAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"groups": a.groups, "eps": a.eps}


RULE = Rule(GroupNormAttrs, infer, "norm", params=params, lower=lower, aliases=("group_norm",),
            init=affine_identity, onnx=onnx_pointwise.groupnorm)
