"""One_minus kernels. Shape rule: cnnc/ops/one_minus.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = 1 - x, any shape (a highway layer's carry gate from its transform gate)."""
    (x,) = inputs
    return 1 - x, None


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = -dy."""
    return [-dy], {}
