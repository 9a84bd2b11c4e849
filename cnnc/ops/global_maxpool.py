"""Global max pooling: one value per channel, (C, 1, 1). Kernel: runtime/kernels/global_maxpool.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import LayerAttrs, Rule
from cnnc.ops.onnx_forms import unary
from cnnc.ops.pooling import infer_global, receptive_global


class GlobalMaxPoolAttrs(LayerAttrs):
    op: Literal["global_maxpool"]


RULE = Rule(GlobalMaxPoolAttrs, infer_global, "pool", receptive=receptive_global, onnx=unary("GlobalMaxPool"))
