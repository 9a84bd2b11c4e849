"""Batch normalisation over the channel axis. Kernel: runtime/kernels/batchnorm.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from cnnc.errors import RuleError
from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, Shape, affine_identity, same_shape


class BatchNormAttrs(LayerAttrs):
    op: Literal["batchnorm"]
    eps: PositiveFloat = 1e-5
    momentum: float = Field(0.1, ge=0.0, le=1.0, description="running-average update weight")
    affine: bool = Field(True, description="learn a scale (weight) and a shift (bias)")
    in_: PositiveInt | None = Field(None, alias="in",
                                    description="expected channels; checked when given")


def infer(a: BatchNormAttrs, xs: tuple[Shape, ...]) -> Shape:
    if a.in_ is not None and a.in_ != xs[0][0]:
        raise RuleError("channels", f"expects {a.in_} channels, got {xs[0][0]}",
                        hint=f"set `in: {xs[0][0]}`, or change the producer", attr="in")
    return same_shape(a, xs)


def params(a: BatchNormAttrs, xs: tuple[Shape, ...]) -> dict[str, Shape]:
    c = xs[0][0]
    return {"weight": (c,), "bias": (c,)} if a.affine else {}


def buffers(a: BatchNormAttrs, xs: tuple[Shape, ...]) -> dict[str, Shape]:
    c = xs[0][0]
    return {"running_mean": (c,), "running_var": (c,)}


def lower(a: BatchNormAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"eps": a.eps, "momentum": a.momentum}


RULE = Rule(BatchNormAttrs, infer, "norm", params=params, buffers=buffers, lower=lower,
            aliases=("bn", "batchnorm1d", "batchnorm2d", "batchnorm3d", "batch_norm"),
            init=affine_identity, onnx=onnx_pointwise.batchnorm)
