"""Average pooling, 1D/2D/3D. Kernel: runtime/kernels/avgpool.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnnc.ops.base import Rule
from cnnc.ops.pooling import PoolAttrs, infer, receptive


class AvgPoolAttrs(PoolAttrs):
    op: Literal["avgpool"]
    count_include_pad: bool = Field(True, description="padding zeros count in the average")


RULE = Rule(AvgPoolAttrs, infer, "pool", receptive=receptive)
