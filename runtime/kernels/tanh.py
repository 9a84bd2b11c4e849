"""Tanh kernels. Shape rule: cnnc/ops/tanh.py.

The NumPy body runs on the CPU as it is: NumPy's exp and tanh are SIMD, and a compiled loop
calling the C library per element was slower even on two threads (sigmoid 1.3x, tanh 60x).
"""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = tanh(x), any shape."""
    (x,) = inputs
    y = xp.tanh(x)
    return y, y


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy * (1 - y**2)."""
    y = saved
    dx = xp.square(y)
    xp.subtract(1, dx, out=dx)
    dx *= dy
    return [dx], {}
