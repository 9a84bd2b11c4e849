"""Layer normalisation over the channels: each position's channel vector is normalised on its
own (ConvNeXt's LayerNorm2d, PyTorch's LayerNorm(C) on channels-last); on a vector, over its
features. Kernel: runtime/kernels/layernorm.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveFloat

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, Shape, affine_identity, same_shape


class LayerNormAttrs(LayerAttrs):
    op: Literal["layernorm"]
    eps: PositiveFloat = Field(1e-5, description="PyTorch's default; ConvNeXt uses 1e-6")
    affine: bool = Field(True, description="learn a scale (weight) and a shift (bias) per channel")


def params(a: LayerNormAttrs, xs: tuple[Shape, ...]) -> dict[str, Shape]:
    c = xs[0][0]
    return {"weight": (c,), "bias": (c,)} if a.affine else {}


def lower(a: LayerNormAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"eps": a.eps}


RULE = Rule(LayerNormAttrs, same_shape, "norm", params=params, lower=lower, aliases=("layer_norm",),
            init=affine_identity, onnx=onnx_pointwise.layernorm)
