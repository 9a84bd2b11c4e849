"""Global avgpool kernels. Shape rule: cnnc/ops/global_avgpool.py."""

from __future__ import annotations

import math
from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, 1, ...) = mean of x (N, C, *spatial) over its spatial axes, which stay as 1s.
    saved: x's shape."""
    (x,) = inputs
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True), x.shape


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial) = dy / (number of spatial cells), spread over every cell."""
    x_shape = saved
    dx = xp.empty(x_shape, dtype=dy.dtype)
    dx[...] = dy / math.prod(x_shape[2:])  # a real array: callers may accumulate into it
    return [dx], {}
