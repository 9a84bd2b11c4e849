"""Concatenation along the channel axis (Inception, DenseNet, U-Net). Kernel: runtime/kernels/concat.py."""

from __future__ import annotations

from typing import Literal

from cnnc.errors import RuleError
from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, Shape, fmt


class ConcatAttrs(LayerAttrs):
    op: Literal["concat"]


def infer(a: ConcatAttrs, xs: tuple[Shape, ...]) -> Shape:
    first = xs[0]
    for i, x in enumerate(xs[1:], start=1):
        if x[1:] != first[1:]:
            raise RuleError("shape", f"concat inputs must agree on every axis but channels: "
                                     f"input 0 is {fmt(first)}, input {i} is {fmt(x)}",
                            hint="crop or pad the larger input (U-Net: `{op: crop, from: "
                                 "[skip, up]}`), or fix the strides upstream", attr="from")
    return (sum(x[0] for x in xs), *first[1:])


RULE = Rule(ConcatAttrs, infer, "merge", arity=(2, None), sees="widest",
            aliases=("concatenate", "cat"), onnx=onnx_pointwise.concat)
