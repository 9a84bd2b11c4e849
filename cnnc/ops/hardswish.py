"""Hard swish (MobileNetV3), x * relu6(x + 3) / 6. Kernel: runtime/kernels/hardswish.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import LayerAttrs, Rule, same_shape
from cnnc.ops.onnx_forms import unary


class HardswishAttrs(LayerAttrs):
    op: Literal["hardswish"]


RULE = Rule(HardswishAttrs, same_shape, "activation", aliases=("hswish", "hard_swish"), onnx=unary("HardSwish"))
