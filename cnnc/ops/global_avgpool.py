"""Global average pooling: one value per channel, (C, 1, 1). Kernel: runtime/kernels/global_avgpool.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import LayerAttrs, Rule
from cnnc.ops.onnx_forms import unary
from cnnc.ops.pooling import infer_global, receptive_global


class GlobalAvgPoolAttrs(LayerAttrs):
    op: Literal["global_avgpool"]


RULE = Rule(GlobalAvgPoolAttrs, infer_global, "pool", receptive=receptive_global,
            aliases=("gap", "globalaveragepooling2d"), onnx=unary("GlobalAveragePool"))
