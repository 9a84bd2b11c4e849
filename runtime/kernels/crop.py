"""Crop kernels. Shape rule: cnnc/ops/crop.py."""

from __future__ import annotations

from typing import Any


def _window(x_shape: tuple[int, ...], ref_shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The kept centre of x: (x - ref) // 2 cells dropped before per axis, the odd one after."""
    return (slice(None), slice(None)) + tuple(
        slice((s - r) // 2, (s - r) // 2 + r) for s, r in zip(x_shape[2:], ref_shape[2:]))


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *ref spatial) = the centre of x (N, C, *spatial); ref (N, C', *ref spatial)
    only gives the size. saved: both shapes."""
    x, ref = inputs
    # A contiguous copy, not a view: it frees x's storage and its readers stream it.
    y = xp.ascontiguousarray(x[_window(x.shape, ref.shape)])
    return y, (x.shape, ref.shape)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): dy in the centre, zeros around; ref gets no gradient."""
    x_shape, ref_shape = saved
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    dx[_window(x_shape, ref_shape)] = dy
    return [dx, None], {}
