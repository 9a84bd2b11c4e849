"""ReLU kernels. Shape rule: cnnc/ops/relu.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    (x,) = inputs
    y = xp.maximum(x, 0)
    return y, y  # y > 0 exactly where x > 0, and y is kept alive by its reader anyway


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    return [dy * (saved > 0)], {}
