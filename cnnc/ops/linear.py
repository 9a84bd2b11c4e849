"""Fully connected layer on a vector. Kernel: runtime/kernels/linear.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from cnnc.errors import RuleError
from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, Shape, fmt


class LinearAttrs(LayerAttrs):
    op: Literal["linear"]
    out: PositiveInt = Field(description="output features")
    bias: bool = True
    in_: PositiveInt | None = Field(None, alias="in",
                                    description="expected input features; checked when given")


def infer(a: LinearAttrs, xs: tuple[Shape, ...]) -> Shape:
    (x,) = xs
    if len(x) != 1:
        raise RuleError("shape", f"linear needs a vector but got a {fmt(x)} feature map",
                        hint="add `{op: flatten}` (or a global pool and flatten) before it")
    if a.in_ is not None and a.in_ != x[0]:
        raise RuleError("channels", f"expects {a.in_} input features, got {x[0]}",
                        hint=f"set `in: {x[0]}`, or change the producer", attr="in")
    return (a.out,)


def params(a: LinearAttrs, xs: tuple[Shape, ...]) -> dict[str, Shape]:
    weight = (a.out, xs[0][0])  # PyTorch: (out, in)
    return {"weight": weight} | ({"bias": (a.out,)} if a.bias else {})


def macs(a: LinearAttrs, xs: tuple[Shape, ...], y: Shape) -> int:
    return xs[0][0] * a.out


def label(a: LinearAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return f"{xs[0][0]}→{y[0]}"


RULE = Rule(LinearAttrs, infer, "linear", params=params, macs=macs, label=label,
            aliases=("dense", "fc", "fully_connected"), onnx=onnx_pointwise.linear)
