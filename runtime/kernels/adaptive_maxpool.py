"""Adaptive maxpool kernels. Shape rule: cnnc/ops/adaptive_maxpool.py."""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels import pooling

# The maximum over a box is the maximum over its last axis, then over the next one, and so on.
# Reducing the last (fastest) axis first keeps PyTorch's tie rule: the first maximum in
# row-major order wins, since an earlier row only loses to a strictly greater later one.


def _max_along(xp: Any, x: Any, axis: int, m: int) -> tuple[Any, Any]:
    """Maximum of x over PyTorch's m bins of `axis`, and each output's winning position inside
    its bin (the first maximum), as (y, win) with m cells on `axis`."""
    start, end = pooling.bins(xp, x.shape[axis], m)
    y = xp.take(x, start, axis=axis)  # (..., m, ...)
    width = pooling.widest_bin(x.shape[axis], m)
    win = xp.zeros(y.shape, dtype=xp.int8 if width < 128 else xp.int32)
    better = xp.empty(y.shape, dtype=bool)
    won = xp.empty(y.shape, dtype=win.dtype)
    for k in range(1, width):
        # Narrower bins repeat their last cell, which never wins twice (strictly greater).
        v = xp.take(x, xp.minimum(start + k, end - 1), axis=axis)
        xp.greater(v, y, out=better)
        xp.multiply(better, win.dtype.type(k), out=won)
        xp.maximum(win, won, out=win)  # win < k so far: sets k where v won
        xp.maximum(y, v, out=y)
    return y, win


def _members(xp: Any, n: int, m: int) -> tuple[Any, Any, Any]:
    """Every (bin i, offset k, cell start_i + k) membership of the m bins of n cells, (P,) each."""
    start, end = pooling.bins(xp, n, m)
    width = pooling.widest_bin(n, m)
    k = xp.arange(width)[None, :]  # (1, K)
    inside = (start[:, None] + k < end[:, None]).reshape(-1)  # (m*K,)
    i = xp.repeat(xp.arange(m), width)[inside]
    k = xp.tile(xp.arange(width), m)[inside]
    return i, k, start[i] + k


def _unmax_along(xp: Any, g: Any, win: Any, axis: int, n: int) -> Any:
    """Adjoint of `_max_along`: g (m cells on `axis`) sent to each bin's winning cell of n."""
    i, k, cell = _members(xp, n, g.shape[axis])
    shape = [1] * g.ndim
    shape[axis] = i.shape[0]
    hit = xp.take(win, i, axis=axis) == k.reshape(shape)  # (..., P, ...)
    gp = xp.take(g, i, axis=axis) * hit  # each membership's share: dy where it won
    idx_t, w_t = pooling.transpose_taps(xp, cell[:, None], None, n, g.dtype)
    return pooling.gather(xp, gp, idx_t, w_t, axis)  # (..., n, ...)


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *out) = maximum of x (N, C, *spatial) over each of PyTorch's adaptive bins.

    saved: per spatial axis the winning offset inside each bin (int8), and x's shape."""
    (x,) = inputs
    y, wins = x, []
    for axis in reversed(range(2, x.ndim)):
        y, win = _max_along(xp, y, axis, attrs["out"][axis - 2])
        wins.append(win)
    return y, (wins, x.shape)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): each dy goes to the first maximum of its bin."""
    wins, x_shape = saved
    dx = dy
    for axis, win in zip(range(2, len(x_shape)), reversed(wins)):
        dx = _unmax_along(xp, dx, win, axis, x_shape[axis])
    return [dx], {}
