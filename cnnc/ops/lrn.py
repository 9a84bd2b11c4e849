"""Local response normalisation across channels (AlexNet). Kernel: runtime/kernels/lrn.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from cnnc.ops.base import LayerAttrs, Rule, same_shape


class LrnAttrs(LayerAttrs):
    op: Literal["lrn"]
    size: PositiveInt = Field(description="neighbouring channels summed over")
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0


RULE = Rule(LrnAttrs, same_shape, "norm")
