"""Hard sigmoid (MobileNetV3), relu6(x + 3) / 6. Kernel: runtime/kernels/hardsigmoid.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import LayerAttrs, Rule, same_shape
from cnnc.ops.onnx_forms import unary


class HardsigmoidAttrs(LayerAttrs):
    op: Literal["hardsigmoid"]


RULE = Rule(HardsigmoidAttrs, same_shape, "activation", aliases=("hsigmoid", "hard_sigmoid"), onnx=unary("HardSigmoid", alpha=1 / 6, beta=0.5))
