"""Relu6 kernels. Shape rule: cnnc/ops/relu6.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = min(max(x, 0), 6), any shape."""
    (x,) = inputs
    y = xp.clip(x, 0, 6)
    return y, y  # 0 < y < 6 exactly where 0 < x < 6, the only place the gradient passes


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy where 0 < x < 6, else 0 (PyTorch: no gradient at the clip boundaries)."""
    y = saved
    return [dy * ((y > 0) & (y < 6))], {}
