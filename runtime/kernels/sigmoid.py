"""Sigmoid kernels. Shape rule: cnnc/ops/sigmoid.py.

The NumPy body runs on the CPU as it is: NumPy's exp and tanh are SIMD, and a compiled loop
calling the C library per element was slower even on two threads (sigmoid 1.3x, tanh 60x).
"""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = 1 / (1 + exp(-x)), any shape; stable for large |x| in float32."""
    (x,) = inputs
    e = xp.abs(x)
    xp.negative(e, out=e)
    xp.exp(e, out=e)  # exp(-|x|) in (0, 1]: never overflows
    # x >= 0: 1 / (1 + e); x < 0: e / (1 + e), exact for tiny y. The numerator is
    # max(e, x >= 0) since e <= 1: NumPy's `where` is 5x slower than this whole kernel.
    y = xp.maximum(e, x >= 0)
    e += 1
    y /= e
    return y, y


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy * y * (1 - y)."""
    y = saved
    dx = 1 - y
    dx *= y
    dx *= dy
    return [dx], {}
