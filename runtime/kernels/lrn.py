"""Lrn kernels. Shape rule: cnnc/ops/lrn.py.

PyTorch's LocalResponseNorm across channels, on (N, C) or (N, C, *spatial):
    y = x / d**beta,  d = k + alpha / size * (sum of x**2 over channels c - size//2 ...
    c + (size - 1)//2, clipped to the existing channels).
The divisor is always `size` (PyTorch averages over a zero-padded window).
"""

from __future__ import annotations

from typing import Any


def _window_sum(xp: Any, a: Any, before: int, after: int) -> Any:
    """out[:, c] = sum of a[:, c - before ... c + after] over channels that exist; a new array.

    One strided slice add per window offset: no loop over channels, no padded copy.
    """
    out = a.copy()
    c = a.shape[1]
    for off in range(1, min(before, c - 1) + 1):
        out[:, off:] += a[:, :c - off]  # channel c - off feeds channel c
    for off in range(1, min(after, c - 1) + 1):
        out[:, :c - off] += a[:, off:]  # channel c + off feeds channel c
    return out


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, ...) = x / (k + alpha/size * window sum of x**2)**beta."""
    (x,) = inputs
    size = attrs["size"]
    d = _window_sum(xp, xp.square(x), size // 2, (size - 1) // 2)  # (N, C, ...)
    d *= attrs["alpha"] / size
    d += attrs["k"]
    y = x / d ** attrs["beta"]
    return y, (y, d)  # x = y * d**beta, so x need not be kept


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, ...) = dy / d**beta - 2*alpha*beta/size * x * (transposed window sum of
    dy * y / d): channel j feeds the windows of channels j - (size-1)//2 ... j + size//2."""
    y, d = saved
    size, beta = attrs["size"], attrs["beta"]
    p = d ** beta  # (N, C, ...)
    t = dy * y
    t /= d
    t = _window_sum(xp, t, (size - 1) // 2, size // 2)
    t *= p  # x = y * p
    t *= y
    t *= -2.0 * attrs["alpha"] * beta / size
    t += dy / p
    return [t], {}
