"""Identity, y = x (a named pass-through). Kernel: runtime/kernels/identity.py."""

from __future__ import annotations

from typing import Literal

from cnnc.ops.base import LayerAttrs, Rule, same_shape
from cnnc.ops.onnx_forms import unary


class IdentityAttrs(LayerAttrs):
    op: Literal["identity"]


RULE = Rule(IdentityAttrs, same_shape, "activation", view="always", onnx=unary("Identity"))
