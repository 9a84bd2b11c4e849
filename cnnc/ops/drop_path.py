"""Stochastic depth (Huang et al. 2016, "drop path"): in training each sample's whole tensor is
zeroed with probability `p` and the others scaled by 1 / (1 - p); identity in inference. Written
on a residual branch before its add (EfficientNet's MBConv, ConvNeXt's block), it is
torchvision's StochasticDepth(p, "row"); `mode: batch` drops the branch of the whole batch at
once. Kernel: runtime/kernels/drop_path.py.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cnnc.ops.base import LayerAttrs, Rule, Shape, same_shape
from cnnc.ops.onnx_forms import unary


class DropPathAttrs(LayerAttrs):
    op: Literal["drop_path"]
    p: float = Field(ge=0.0, lt=1.0, description="probability of dropping a sample's tensor")
    mode: Literal["row", "batch"] = Field(
        "row", description="`row`: each sample apart; `batch`: the whole batch at once")


def lower(a: DropPathAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"p": a.p, "mode": a.mode}


def label(a: DropPathAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return f"p={a.p:g}" + (" batch" if a.mode == "batch" else "")


RULE = Rule(DropPathAttrs, same_shape, "regularise", lower=lower, label=label, view="inference",
            aliases=("stochastic_depth", "droppath", "drop_connect"), onnx=unary("Identity"))
