"""Leaky ReLU, max(x, 0) + slope * min(x, 0). Kernel: runtime/kernels/leaky_relu.py."""

from __future__ import annotations

from typing import Any, Literal

from cnnc.ops.base import LayerAttrs, Rule, Shape, same_shape
from cnnc.ops.onnx_forms import Emitter


class LeakyReluAttrs(LayerAttrs):
    op: Literal["leaky_relu"]
    negative_slope: float = 0.01


def lower(a: LeakyReluAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"negative_slope": a.negative_slope}


def label(a: LeakyReluAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return f"slope {a.negative_slope:g}"


def to_onnx(a: LeakyReluAttrs, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    e.node("LeakyRelu", [e.inputs[0]], e.output, alpha=a.negative_slope)


RULE = Rule(LeakyReluAttrs, same_shape, "activation", lower=lower, label=label, onnx=to_onnx)
