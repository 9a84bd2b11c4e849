"""Dropout: zeroes a fraction `p` in training, identity in inference. Kernel: runtime/kernels/dropout.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cnnc.ops.base import LayerAttrs, Rule, Shape, same_shape
from cnnc.ops.onnx_forms import unary


class DropoutAttrs(LayerAttrs):
    op: Literal["dropout"]
    p: float = Field(0.5, ge=0.0, lt=1.0, description="probability of zeroing an element")


def lower(a: DropoutAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"p": a.p}


def label(a: DropoutAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return f"p={a.p:g}"


RULE = Rule(DropoutAttrs, same_shape, "regularise", lower=lower, label=label, view="inference",
            aliases=("dropout2d",), onnx=unary("Identity"))
