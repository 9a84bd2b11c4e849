"""ReLU6, min(max(x, 0), 6). Kernel: runtime/kernels/relu6.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, same_shape


class Relu6Attrs(LayerAttrs):
    op: Literal["relu6"]


RULE = Rule(Relu6Attrs, same_shape, "activation", onnx=onnx_pointwise.relu6)
