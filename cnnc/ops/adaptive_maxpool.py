"""Adaptive max pooling to a fixed output size. Kernel: runtime/kernels/adaptive_maxpool.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops import onnx_windows
from cnnc.ops.base import Rule
from cnnc.ops.labels import adaptive_label
from cnnc.ops.pooling import (
    AdaptiveAttrs,
    infer_adaptive,
    lower_adaptive,
    receptive_adaptive,
)


class AdaptiveMaxPoolAttrs(AdaptiveAttrs):
    op: Literal["adaptive_maxpool"]


RULE = Rule(AdaptiveMaxPoolAttrs, infer_adaptive, "pool", receptive=receptive_adaptive,
            lower=lower_adaptive, label=adaptive_label, aliases=("adaptivemaxpool2d",), onnx=onnx_windows.adaptive_maxpool)
