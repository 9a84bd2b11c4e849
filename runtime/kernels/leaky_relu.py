"""Leaky_relu kernels. Shape rule: cnnc/ops/leaky_relu.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = x where x > 0, else negative_slope * x; any shape."""
    (x,) = inputs
    positive = x > 0  # saved as bool: the slope may be 0 or negative, so y's sign can't tell
    return xp.where(positive, x, x * attrs["negative_slope"]), positive


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy where x > 0, else negative_slope * dy (PyTorch's choice at x == 0)."""
    return [xp.where(saved, dy, dy * attrs["negative_slope"])], {}
