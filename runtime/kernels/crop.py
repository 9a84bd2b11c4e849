"""Crop kernels. Shape rule: cnnc/ops/crop.py."""

from __future__ import annotations

from typing import Any


def _window(attrs: dict) -> tuple[slice, ...]:
    """The kept window of x: `size` cells from `start` on each spatial axis (the rule puts the
    odd cell after)."""
    return (slice(None), slice(None)) + tuple(
        slice(start, start + size) for start, size in zip(attrs["start"], attrs["size"]))


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *size) = the window of x (N, C, *spatial); the reference whose size it takes
    is the compiler's (Rule.size_inputs), not an input here. saved: x's shape."""
    (x,) = inputs
    # A contiguous copy, not a view: it frees x's storage and its readers stream it.
    y = xp.ascontiguousarray(x[_window(attrs)])
    return y, x.shape


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): dy in the window, zeros around."""
    dx = xp.zeros(saved, dtype=dy.dtype)
    dx[_window(attrs)] = dy
    return [dx], {}
