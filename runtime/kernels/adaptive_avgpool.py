"""Adaptive avgpool kernels. Shape rule: cnnc/ops/adaptive_avgpool.py."""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels import pooling


def _mean_matrix(xp: Any, n: int, m: int, dtype: Any) -> Any:
    """(m, n) matrix whose row i averages PyTorch's bin i of an axis of n cells."""
    start, end = pooling.bins(xp, n, m)
    j = xp.arange(n)
    inside = (j >= start[:, None]) & (j < end[:, None])  # (m, n)
    return inside.astype(dtype) / (end - start).astype(dtype)[:, None]


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *out) = mean of x (N, C, *spatial) over each of PyTorch's adaptive bins.

    A box mean is the product of per-axis means, so each axis is reduced in turn by one GEMM
    with its (m, n) averaging matrix; axes already at their output size are skipped.
    saved: x's shape."""
    (x,) = inputs
    y = x
    for axis, m in enumerate(attrs["out"], 2):
        if y.shape[axis] != m:
            y = pooling.along(xp, y, _mean_matrix(xp, y.shape[axis], m, x.dtype), axis)
    return (y.copy() if y is x else y), x.shape


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): each cell gets the dy of every bin holding it over the bin size."""
    x_shape = saved
    dx = dy
    for axis, n in enumerate(x_shape[2:], 2):
        if dx.shape[axis] != n:
            dx = pooling.along(xp, dx, _mean_matrix(xp, n, dx.shape[axis], dy.dtype).T, axis)
    return [dx.copy() if dx is dy else dx], {}
