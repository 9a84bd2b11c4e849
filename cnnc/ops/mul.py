"""Elementwise product of two or more tensors of one shape (gates). Kernel: runtime/kernels/mul.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule
from cnnc.ops.merge import infer_elementwise


class MulAttrs(LayerAttrs):
    op: Literal["mul"]


RULE = Rule(MulAttrs, infer_elementwise, "merge", arity=(2, None), sees="widest",
            aliases=("multiply",), onnx=onnx_pointwise.mul)
