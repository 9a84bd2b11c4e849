"""Reshape kernels. Shape rule: cnnc/ops/reshape.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, *shape) from x (N, ...): a view when x is contiguous. attrs["shape"] excludes
    the batch axis, with any -1 already resolved by the compiler."""
    (x,) = inputs
    return x.reshape((x.shape[0], *attrs["shape"])), x.shape


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx: dy reshaped back to the input shape (a view when dy is contiguous)."""
    return [dy.reshape(saved)], {}
