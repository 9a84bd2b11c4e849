"""Add kernels. Shape rule: cnnc/ops/add.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = x0 + x1 + ..., two or more inputs of one shape."""
    y = inputs[0] + inputs[1]  # a new array: the rest add into it in place
    for x in inputs[2:]:
        y += x
    return y, len(inputs)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """Every input's gradient is dy itself (no copies: callers treat gradients as read-only)."""
    return [dy] * saved, {}
