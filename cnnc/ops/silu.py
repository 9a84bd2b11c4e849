"""SiLU (swish), x * sigmoid(x). Kernel: runtime/kernels/silu.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, same_shape


class SiluAttrs(LayerAttrs):
    op: Literal["silu"]


RULE = Rule(SiluAttrs, same_shape, "activation", aliases=("swish",), onnx=onnx_pointwise.silu)
