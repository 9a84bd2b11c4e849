"""Sigmoid kernels. Shape rule: cnnc/ops/sigmoid.py.

On the CPU the passes around the exponential are compiled loops over Numba's threads, and the
exponential itself stays NumPy's SIMD exp (a compiled loop calling the C library per element
is slower even on two threads): the same operations as the NumPy body, so the same bits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import prange

from cnnc_runtime import jit
from cnnc_runtime.kernels.relu import compiled_for


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = 1 / (1 + exp(-x)), any shape; stable for large |x| in float32."""
    (x,) = inputs
    if compiled_for(xp, x):
        e = np.empty_like(x)
        _negative_abs(x.reshape(-1), e.reshape(-1))
        np.exp(e, out=e)
        y = np.empty_like(x)
        _quotient(x.reshape(-1), e.reshape(-1), y.reshape(-1), np.ones(1, x.dtype))
        return y, y
    e = xp.abs(x)
    xp.negative(e, out=e)
    xp.exp(e, out=e)  # exp(-|x|) in (0, 1]: never overflows
    # x >= 0: 1 / (1 + e); x < 0: e / (1 + e), exact for tiny y. The numerator is
    # max(e, x >= 0) since e <= 1: NumPy's `where` is 5x slower than this whole kernel.
    y = xp.maximum(e, x >= 0)
    e += 1
    y /= e
    return y, y


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy * y * (1 - y)."""
    y = saved
    if compiled_for(xp, dy, y):
        dx = np.empty_like(dy)
        _backward(dy.reshape(-1), y.reshape(-1), dx.reshape(-1), np.ones(1, y.dtype))
        return [dx], {}
    dx = 1 - y
    dx *= y
    dx *= dy
    return [dx], {}


@jit.compiled(parallel=True)
def _negative_abs(x: Any, e: Any) -> None:
    for i in prange(x.shape[0]):
        e[i] = -abs(x[i])


@jit.compiled(parallel=True)
def _quotient(x: Any, e: Any, y: Any, one: Any) -> None:
    """y = max(e, x >= 0) / (e + 1), `one` keeping float32 in float32."""
    for i in prange(x.shape[0]):
        v = e[i]
        y[i] = (one[0] if x[i] >= 0 and one[0] > v else v) / (v + one[0])


@jit.compiled(parallel=True)
def _backward(dy: Any, y: Any, dx: Any, one: Any) -> None:
    for i in prange(dy.shape[0]):
        v = y[i]
        dx[i] = (one[0] - v) * v * dy[i]
