"""Local response normalisation across channels (AlexNet). Kernel: runtime/kernels/lrn.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveInt

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, Shape, spatial


class LrnAttrs(LayerAttrs):
    op: Literal["lrn"]
    size: PositiveInt = Field(description="neighbouring channels summed over")
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0


def infer(a: LrnAttrs, xs: tuple[Shape, ...]) -> Shape:
    spatial(xs[0], "lrn")  # it normalises across channels at each position of a feature map
    return xs[0]


def lower(a: LrnAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"size": a.size, "alpha": a.alpha, "beta": a.beta, "k": a.k}


def label(a: LrnAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return f"size {a.size}"


RULE = Rule(LrnAttrs, infer, "norm", lower=lower, label=label, aliases=("localresponsenorm",), onnx=onnx_pointwise.lrn)
