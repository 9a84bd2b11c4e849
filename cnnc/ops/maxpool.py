"""Max pooling, 1D/2D/3D. Kernel: runtime/kernels/maxpool.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import PerAxis, Rule
from cnnc.ops.labels import pool_label
from cnnc.ops.pooling import PoolAttrs, dropped, infer, lower, receptive


class MaxPoolAttrs(PoolAttrs):
    op: Literal["maxpool"]
    dilation: PerAxis = 1


RULE = Rule(MaxPoolAttrs, infer, "pool", receptive=receptive, lower=lower, label=pool_label,
            aliases=("maxpool1d", "maxpool2d", "maxpool3d", "max_pool"),
            dropped=dropped)
