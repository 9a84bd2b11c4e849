"""Softmax over the channel (feature) axis. Kernel: runtime/kernels/softmax.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, same_shape


class SoftmaxAttrs(LayerAttrs):
    op: Literal["softmax"]


RULE = Rule(SoftmaxAttrs, same_shape, "activation", onnx=onnx_pointwise.softmax)
