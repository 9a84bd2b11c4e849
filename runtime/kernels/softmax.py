"""Softmax kernels. Shape rule: cnnc/ops/softmax.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, ...) = exp(x) / sum over axis 1 of exp(x); the max is subtracted first."""
    (x,) = inputs
    y = x - x.max(axis=1, keepdims=True)  # (N, C, ...), every exponent <= 0: no overflow
    xp.exp(y, out=y)
    y /= y.sum(axis=1, keepdims=True)
    return y, y


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = y * (dy - sum over axis 1 of dy * y)."""
    y = saved
    dx = dy * y
    dx -= y * dx.sum(axis=1, keepdims=True)
    return [dx], {}
