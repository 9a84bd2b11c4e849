"""Silu kernels. Shape rule: cnnc/ops/silu.py."""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels import sigmoid


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = x * sigmoid(x), any shape."""
    (x,) = inputs
    s, _ = sigmoid.forward(xp, [x], {}, {}, training)  # stable for large |x|, compiled on the CPU
    return x * s, (x, s)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy * s * (1 + x * (1 - s)) with s = sigmoid(x), PyTorch's form."""
    x, s = saved
    dx = 1 - s
    dx *= x
    dx += 1
    dx *= s
    dx *= dy
    return [dx], {}
