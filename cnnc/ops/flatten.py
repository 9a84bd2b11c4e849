"""Flatten everything but the batch axis into a vector. Kernel: runtime/kernels/flatten.py."""

from __future__ import annotations

import math
from typing import Literal

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, Shape, Window, global_windows


class FlattenAttrs(LayerAttrs):
    op: Literal["flatten"]


def infer(a: FlattenAttrs, xs: tuple[Shape, ...]) -> Shape:
    return (math.prod(xs[0]),)


def receptive(a: LayerAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    return global_windows(xs[0][1:])  # each feature may come from anywhere: the whole map


RULE = Rule(FlattenAttrs, infer, "shape", receptive=receptive, view="always", onnx=onnx_pointwise.flatten)
