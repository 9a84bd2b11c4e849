"""Average pooling, 1D/2D/3D. Kernel: runtime/kernels/avgpool.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cnnc.ops import onnx_windows, pooling
from cnnc.ops.base import Rule, Shape
from cnnc.ops.labels import pool_label
from cnnc.ops.pooling import PoolAttrs, dropped, infer, receptive


class AvgPoolAttrs(PoolAttrs):
    op: Literal["avgpool"]
    count_include_pad: bool = Field(True, description="padding zeros count in the average")


def lower(a: AvgPoolAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    window = pooling.lower(a, xs, y)
    del window["dilation"]  # average pooling has none
    return window | {"count_include_pad": a.count_include_pad}


RULE = Rule(AvgPoolAttrs, infer, "pool", receptive=receptive, lower=lower, label=pool_label,
            aliases=("avgpool1d", "avgpool2d", "avgpool3d", "avg_pool"),
            dropped=dropped, onnx=onnx_windows.avgpool)
