"""Hyperbolic tangent. Kernel: runtime/kernels/tanh.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import LayerAttrs, Rule, same_shape
from cnnc.ops.onnx_forms import unary


class TanhAttrs(LayerAttrs):
    op: Literal["tanh"]


RULE = Rule(TanhAttrs, same_shape, "activation", onnx=unary("Tanh"))
