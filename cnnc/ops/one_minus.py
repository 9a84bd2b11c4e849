"""1 - x, the carry gate of a highway layer from its transform gate. Kernel: runtime/kernels/one_minus.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, same_shape


class OneMinusAttrs(LayerAttrs):
    op: Literal["one_minus"]


RULE = Rule(OneMinusAttrs, same_shape, "activation", onnx=onnx_pointwise.one_minus)
