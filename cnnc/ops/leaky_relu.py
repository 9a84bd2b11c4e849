"""Leaky ReLU, max(x, 0) + slope * min(x, 0). Kernel: runtime/kernels/leaky_relu.py."""

from __future__ import annotations

from typing import Any, Literal

from cnnc.ops.base import LayerAttrs, Rule, Shape, same_shape


class LeakyReluAttrs(LayerAttrs):
    op: Literal["leaky_relu"]
    negative_slope: float = 0.01


def lower(a: LeakyReluAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"negative_slope": a.negative_slope}


def label(a: LeakyReluAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return f"slope {a.negative_slope:g}"


RULE = Rule(LeakyReluAttrs, same_shape, "activation", lower=lower, label=label)
