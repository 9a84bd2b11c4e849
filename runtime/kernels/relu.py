"""ReLU kernels. Shape rule: cnnc/ops/relu.py.

`mask` is also the backward of the fused kernels that end in a ReLU. On the CPU both passes
are one compiled loop over Numba's threads; NumPy's own bodies are the references.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import prange

from cnnc_runtime import jit


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    (x,) = inputs
    if compiled_for(xp, x):
        y = np.empty_like(x)
        _relu(x.reshape(-1), y.reshape(-1))
    else:
        y = xp.maximum(x, 0)
    return y, y  # y > 0 exactly where x > 0, and y is kept alive by its reader anyway


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    return [mask(xp, dy, saved)], {}


def mask(xp: Any, dy: Any, y: Any) -> Any:
    """dy where y > 0, else 0: the gradient through a ReLU whose output is y."""
    if compiled_for(xp, dy, y):
        dx = np.empty_like(dy)
        _mask(dy.reshape(-1), y.reshape(-1), dx.reshape(-1))
        return dx
    return dy * (y > 0)


def compiled_for(xp: Any, *arrays: Any) -> bool:
    """Whether an elementwise compiled loop takes these arrays: NumPy, contiguous, one
    floating dtype (shared by the activation kernels)."""
    return jit.enabled(xp) and all(a.flags.c_contiguous and a.dtype == arrays[0].dtype
                                   and a.dtype.kind == "f" for a in arrays)


@jit.compiled(parallel=True)
def _relu(x: Any, y: Any) -> None:
    for i in prange(x.shape[0]):
        v = x[i]
        y[i] = 0 if v < 0 else v  # noqa: FURB136 (NaN stays NaN, as in np.maximum; max() hides it)


@jit.compiled(parallel=True)
def _mask(dy: Any, y: Any, dx: Any) -> None:
    for i in prange(dy.shape[0]):
        d = dy[i]
        dx[i] = d if y[i] > 0 else d - d  # dy * 0 (NaN stays NaN); a literal would promote
