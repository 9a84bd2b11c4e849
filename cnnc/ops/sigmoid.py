"""Logistic sigmoid, 1 / (1 + exp(-x)). Kernel: runtime/kernels/sigmoid.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import LayerAttrs, Rule, same_shape
from cnnc.ops.onnx_forms import unary


class SigmoidAttrs(LayerAttrs):
    op: Literal["sigmoid"]


RULE = Rule(SigmoidAttrs, same_shape, "activation", aliases=("logistic",), onnx=unary("Sigmoid"))
