"""Elementwise sum of two or more tensors of one shape (residual connections). Kernel: runtime/kernels/add.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule
from cnnc.ops.merge import infer_elementwise


class AddAttrs(LayerAttrs):
    op: Literal["add"]


RULE = Rule(AddAttrs, infer_elementwise, "merge", arity=(2, None), sees="widest",
            aliases=("sum", "plus"), onnx=onnx_pointwise.add)
