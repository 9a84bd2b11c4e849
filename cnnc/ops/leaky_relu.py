"""Leaky ReLU, max(x, 0) + slope * min(x, 0). Kernel: runtime/kernels/leaky_relu.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import LayerAttrs, Rule, same_shape


class LeakyReluAttrs(LayerAttrs):
    op: Literal["leaky_relu"]
    negative_slope: float = 0.01


RULE = Rule(LeakyReluAttrs, same_shape, "activation")
