"""Hardswish kernels. Shape rule: cnnc/ops/hardswish.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = x * min(max(x + 3, 0), 6) / 6, any shape (PyTorch's operations, in its order)."""
    (x,) = inputs
    y = x + 3
    xp.clip(y, 0, 6, out=y)
    y *= x
    y /= 6
    return y, x


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = 0 for x <= -3, dy * (x / 3 + 1/2) for -3 < x < 3, dy for x >= 3.

    At the kinks the outer slopes hold (0 at -3, 1 at 3), as in PyTorch 2.13.
    """
    x = saved
    slope = xp.where(x >= 3, 1, x / 3 + 0.5)
    slope *= x > -3
    slope *= dy
    return [slope], {}
