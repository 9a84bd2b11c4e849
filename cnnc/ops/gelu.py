"""GELU, x * Phi(x) with Phi the standard normal CDF. Kernel: runtime/kernels/gelu.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, Shape, same_shape


class GeluAttrs(LayerAttrs):
    op: Literal["gelu"]
    approximate: Literal["none", "tanh"] = Field(
        "none", description="`tanh`: the tanh approximation of Phi (PyTorch's approximate='tanh')")


def lower(a: GeluAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"approximate": a.approximate}


RULE = Rule(GeluAttrs, same_shape, "activation", lower=lower, onnx=onnx_pointwise.gelu)
