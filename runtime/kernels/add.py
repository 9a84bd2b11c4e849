"""Add kernels. Shape rule: cnnc/ops/add.py."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import prange

from cnnc_runtime import jit


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = x0 + x1 + ..., two or more inputs of one shape, or of size 1 where they differ
    (broadcast, cnnc/ops/merge.py). Saves the input shapes."""
    a, b = inputs[:2]
    if (jit.enabled(xp) and a.flags.c_contiguous and b.flags.c_contiguous and a.dtype == b.dtype
            and a.shape == b.shape):
        y = np.empty_like(a)
        _add(a.reshape(-1), b.reshape(-1), y.reshape(-1))  # one pass over the threads
    else:
        y = a + b  # a new array: the rest add into it in place where they fit
    for x in inputs[2:]:
        y = xp.add(y, x, out=y) if x.shape == y.shape else y + x
    return y, [x.shape for x in inputs]


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """Every input's gradient is dy itself (no copies: callers treat gradients as read-only),
    summed over the axes it was broadcast along."""
    return [unbroadcast(dy, shape) for shape in saved], {}


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """The gradient `g` of a broadcast result, summed back to an input of `shape`."""
    if g.shape == tuple(shape):
        return g
    axes = tuple(i for i, (n, m) in enumerate(zip(g.shape, shape)) if m == 1 and n != 1)
    return g.sum(axis=axes, keepdims=True)


@jit.compiled(parallel=True)
def _add(a: Any, b: Any, y: Any) -> None:
    for i in prange(a.shape[0]):
        y[i] = a[i] + b[i]
