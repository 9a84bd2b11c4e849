"""ReLU, max(x, 0). Kernel: runtime/kernels/relu.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import LayerAttrs, Rule, same_shape
from cnnc.ops.onnx_forms import unary


class ReluAttrs(LayerAttrs):
    op: Literal["relu"]


RULE = Rule(ReluAttrs, same_shape, "activation", onnx=unary("Relu"))
