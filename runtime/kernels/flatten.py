"""Flatten kernels. Shape rule: cnnc/ops/flatten.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C*H*W...) from x (N, C, H, W...): a view when x is contiguous."""
    (x,) = inputs
    return x.reshape(x.shape[0], -1), x.shape


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx: dy reshaped back to the input shape (a view when dy is contiguous)."""
    return [dy.reshape(saved)], {}
