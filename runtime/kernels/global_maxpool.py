"""Global maxpool kernels. Shape rule: cnnc/ops/global_maxpool.py."""

from __future__ import annotations

import math
from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, 1, ...) = maximum of x (N, C, *spatial) over its spatial axes, which stay as 1s.

    saved: the flat spatial index of each maximum, (N*C,), the first one on ties like
    PyTorch, and x's shape."""
    (x,) = inputs
    flat = x.reshape(x.shape[0] * x.shape[1], -1)  # (N*C, H*W...)
    arg = flat.argmax(axis=1)  # (N*C,)
    y = flat[xp.arange(flat.shape[0]), arg]
    return y.reshape(x.shape[:2] + (1,) * (x.ndim - 2)), (arg, x.shape)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): dy at each channel's maximum, zeros elsewhere."""
    arg, x_shape = saved
    dx = xp.zeros((arg.shape[0], math.prod(x_shape[2:])), dtype=dy.dtype)  # (N*C, H*W...)
    dx[xp.arange(arg.shape[0]), arg] = dy.reshape(-1)
    return [dx.reshape(x_shape)], {}

