"""The compiled CPU twins of conv_bn.py's three passes (moments, normalise, normalise_backward):
one loop each over Numba's threads. conv_bn.py's NumPy references define the results.

Reductions run one channel per work item and sum in float64 into a row of partial sums (a
vector add, then one sum of the row), so the result does not depend on the thread count.
The elementwise passes repeat the reference's operations in its order: the same bits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import prange

from cnnc_runtime import jit


def _rows(a: Any) -> Any:
    """a (N, C, *S) as a contiguous (N, C, S) array (a view when a is contiguous)."""
    n, c = a.shape[:2]
    return np.ascontiguousarray(a).reshape(n, c, -1)


def moments(y: Any) -> tuple[Any, Any]:
    sums = np.empty((y.shape[1], 3), np.float64)
    _channel_moments(_rows(y), sums)
    m = y.size // y.shape[1]
    mean = sums[:, 1] / m
    var = np.maximum(sums[:, 2] / m - mean * mean, 0)
    return (sums[:, 0] + mean).astype(y.dtype), var.astype(y.dtype)


def shard_sums(y: Any, shards: int, centre: Any | None) -> Any:
    """(shards, C) float64: each shard's per-channel sum of y (N, C, *S), or with `centre`
    (C,) of (y - centre)^2 (runtime/sync_bn.py's mean_var)."""
    sums = np.empty((shards, y.shape[1]), np.float64)
    squared = centre is not None
    _shard_sums(_rows(y), centre if squared else np.zeros(0, y.dtype), squared, sums)
    return sums


@jit.compiled(parallel=True)
def _shard_sums(y: Any, centre: Any, squared: bool, sums: Any) -> None:
    """sums[j, c] over shard j's images of channel c, one work item each (so the same bits
    for any thread count and whatever other shards the batch holds)."""
    n, c, s = y.shape
    k = sums.shape[0]
    per = n // k
    for item in prange(k * c):
        j, ch = item // c, item % c
        m = np.float64(centre[ch]) if squared else 0.0
        total = np.zeros(s, np.float64)
        for i in range(j * per, (j + 1) * per):
            for p in range(s):
                v = np.float64(y[i, ch, p]) - m
                total[p] += v * v if squared else v
        sums[j, ch] = total.sum()


def normalise_backward(dz: Any, y: Any, mean: Any, inv_std: Any, scale: Any, beta: Any,
                       relu: bool, training: bool, shards: int = 1,
                       combine: Callable | None = None) -> tuple[Any, Any, Any]:
    """With `combine` (runtime/sync_bn.py's from_partials), the sums are each shard's and
    combine makes the parameter gradients and the batch's sums of them."""
    dz3, y3 = _rows(dz), _rows(y)
    sums = np.empty((shards, y.shape[1], 2), np.float64)
    _backward_sums(dz3, y3, mean, inv_std, scale, beta, relu, sums)
    m = y.size // y.shape[1]
    if combine is None:
        dbias, dweight = sums[0, :, 0].astype(y.dtype), sums[0, :, 1].astype(y.dtype)
        total, dot = dbias, dweight
    else:
        dbias, dweight, total, dot, m = combine([sums[:, :, 0], sums[:, :, 1]], y.dtype, m)
    zero = np.zeros_like(mean)
    a, b = (-dot / m, total / m) if training else (zero, zero)
    dy = np.empty_like(y)
    _backward_rows(dz3, y3, mean, inv_std, scale, beta, relu, a, b, _rows(dy))
    return dy, dweight, dbias


@jit.compiled(parallel=True)
def _channel_moments(y: Any, sums: Any) -> None:
    """sums[c] = (shift, sum of y - shift, sum of (y - shift)^2) over channel c of y (N, C, S),
    shift its first value: no cancellation when the mean is large against the spread."""
    n, c, s = y.shape
    for ch in prange(c):
        shift = np.float64(y[0, ch, 0])
        total, squares = np.zeros(s, np.float64), np.zeros(s, np.float64)
        for i in range(n):
            for p in range(s):
                v = np.float64(y[i, ch, p]) - shift
                total[p] += v
                squares[p] += v * v
        sums[ch, 0], sums[ch, 1], sums[ch, 2] = shift, total.sum(), squares.sum()


def normalise(y: Any, mean: Any, scale: Any, beta: Any, relu: bool) -> Any:
    z = np.empty_like(y)
    _normalise(_rows(y), mean, scale, beta, relu, _rows(z))
    return z


@jit.compiled(parallel=True)
def _normalise(y: Any, mean: Any, scale: Any, beta: Any, relu: bool, z: Any) -> None:
    n, c, s = y.shape
    for r in prange(n * c):
        i, ch = r // c, r % c
        m, k, b = mean[ch], scale[ch], beta[ch]
        for p in range(s):
            v = (y[i, ch, p] - m) * k + b
            z[i, ch, p] = 0 if relu and v < 0 else v  # NaN stays NaN, as in np.maximum


@jit.compiled()
def _masked(dz: Any, yv: Any, m: Any, k: Any, b: Any, relu: bool) -> Any:
    """dz where the forward's z = (y - m) * k + b (the same bits as its pass) is positive,
    else zero (dz - dz: NaN stays NaN as in dz * 0, and a literal would promote float32)."""
    return dz if not relu or (yv - m) * k + b > 0 else dz - dz


@jit.compiled(parallel=True)
def _backward_sums(dz: Any, y: Any, mean: Any, inv_std: Any, scale: Any, beta: Any,
                   relu: bool, sums: Any) -> None:
    """sums[j, c] = (sum of g, sum of g * xhat) over shard j's images of channel c, g the
    ReLU-masked dz: one work item each, as in _shard_sums."""
    n, c, s = y.shape
    shards = sums.shape[0]
    per = n // shards
    for item in prange(shards * c):
        j, ch = item // c, item % c
        m, r, k, b = mean[ch], inv_std[ch], scale[ch], beta[ch]
        total, dot = np.zeros(s, np.float64), np.zeros(s, np.float64)
        for i in range(j * per, (j + 1) * per):
            for p in range(s):
                yv = y[i, ch, p]
                g = _masked(dz[i, ch, p], yv, m, k, b, relu)
                total[p] += g
                dot[p] += np.float64(g) * ((yv - m) * r)
        sums[j, ch, 0], sums[j, ch, 1] = total.sum(), dot.sum()


@jit.compiled(parallel=True)
def _backward_rows(dz: Any, y: Any, mean: Any, inv_std: Any, scale: Any, beta: Any,
                   relu: bool, a: Any, b: Any, dy: Any) -> None:
    """dy = ((xhat * a + g) - b) * scale per channel: a = -dweight/m, b = dbias/m in
    training (zeros in evaluation, where dy = g * scale)."""
    n, c, s = y.shape
    for row in prange(n * c):
        i, ch = row // c, row % c
        m, r, k, t, ac, bc = mean[ch], inv_std[ch], scale[ch], beta[ch], a[ch], b[ch]
        for p in range(s):
            yv = y[i, ch, p]
            g = _masked(dz[i, ch, p], yv, m, k, t, relu)
            dy[i, ch, p] = ((yv - m) * r * ac + g - bc) * k
