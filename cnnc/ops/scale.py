"""A learnable scale per channel, y = weight * x (LayerScale; ReZero when it starts at 0).
Kernel: runtime/kernels/scale.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnnc.ops import onnx_pointwise
from cnnc.ops.base import Init, LayerAttrs, Rule, Shape, same_shape


class ScaleAttrs(LayerAttrs):
    op: Literal["scale"]
    init: float = Field(1.0, allow_inf_nan=False,
                        description="every weight's starting value: 1e-6 for LayerScale (CaiT, "
                                    "ConvNeXt), 0 for ReZero")


def params(a: ScaleAttrs, xs: tuple[Shape, ...]) -> dict[str, Shape]:
    return {"weight": (xs[0][0],)}  # (C,) broadcast over (C, *spatial); (F,) on a vector


def init(a: ScaleAttrs) -> dict[str, Init]:
    return {"weight": Init("constant", float(a.init))}


def label(a: ScaleAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return f"init {a.init:g}"


# A product per element, like a norm's affine map: no MACs (ARCHITECTURE.md counts conv and
# linear only); pointwise, so the receptive field is unchanged.
RULE = Rule(ScaleAttrs, same_shape, "linear", params=params, init=init, label=label,
            aliases=("layerscale", "layer_scale", "rezero"), onnx=onnx_pointwise.scale)
