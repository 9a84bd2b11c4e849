"""Hardsigmoid kernels. Shape rule: cnnc/ops/hardsigmoid.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = min(max(x + 3, 0), 6) / 6, any shape (PyTorch's operations, in its order)."""
    (x,) = inputs
    y = x + 3
    xp.clip(y, 0, 6, out=y)
    y /= 6
    # saved as bool from x, not read off y: x + 3 rounds to 6 for x within an ulp below 3
    return y, (x > -3) & (x < 3)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy / 6 where -3 < x < 3, else 0 (PyTorch: no gradient at the ends)."""
    dx = dy / 6
    dx *= saved
    return [dx], {}
