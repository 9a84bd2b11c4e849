"""Reorder the non-batch axes (with `reshape`, a ShuffleNet channel shuffle).
Kernel: runtime/kernels/permute.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cnnc.errors import RuleError
from cnnc.ops import onnx_pointwise
from cnnc.ops.base import IDENTITY_WINDOW, LayerAttrs, Rule, Shape, Window, fmt, global_windows


class PermuteAttrs(LayerAttrs):
    op: Literal["permute"]
    dims: list[int] = Field(description="output axis i is input axis dims[i], batch excluded "
                                        "(0 = channels); negative counts from the last")


def order(a: PermuteAttrs, x: Shape) -> tuple[int, ...]:
    """`dims` with negative entries resolved, checked to be a permutation of x's axes."""
    n = len(x)
    if len(a.dims) != n:
        raise RuleError("shape", f"`dims` has {len(a.dims)} entries but {fmt(x)} has {n} axes "
                                 "(batch excluded)",
                        hint=f"name each of the axes 0 to {n - 1} once", attr="dims")
    dims = tuple(d % n if -n <= d < n else d for d in a.dims)
    if sorted(dims) != list(range(n)):
        raise RuleError("type", f"`dims` {a.dims} is not a permutation of the axes 0 to {n - 1} "
                                f"of {fmt(x)}", hint="name each axis exactly once", attr="dims")
    return dims


def infer(a: PermuteAttrs, xs: tuple[Shape, ...]) -> Shape:
    return tuple(xs[0][d] for d in order(a, xs[0]))


def receptive(a: PermuteAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    """An axis left in place is pointwise; one that moves loses its meaning, so it takes the
    whole map (as for flatten). The shuffle's (g, C/g, H, W) -> (C/g, g, H, W) keeps H and W."""
    dims, x = order(a, xs[0]), xs[0]
    return [IDENTITY_WINDOW if dims[i] == i else global_windows((x[i],))[0]
            for i in range(1, len(x))]


def lower(a: PermuteAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"dims": order(a, xs[0])}


def label(a: PermuteAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return "(" + ", ".join(map(str, a.dims)) + ")"


RULE = Rule(PermuteAttrs, infer, "shape", receptive=receptive, lower=lower, label=label,
            aliases=("transpose",), onnx=onnx_pointwise.permute)
