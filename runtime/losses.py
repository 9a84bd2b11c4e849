"""Losses: each returns (loss, dloss/dinput) in one call, with mean reduction like PyTorch.

The loss is a 0-d value of the input's dtype (a NumPy scalar under NumPy, a 0-d array under
CuPy, so reading it is the caller's choice of when to synchronise): call float() on it.
"""

from __future__ import annotations

from typing import Any


def softmax_cross_entropy(xp: Any, logits: Any, labels: Any) -> tuple[Any, Any]:
    """Mean cross entropy of softmax(logits) over axis 1 against integer class labels.

    logits (N, K) with labels (N,), or per pixel: logits (N, K, *spatial) with labels
    (N, *spatial); the mean runs over all N * prod(spatial) positions (F.cross_entropy).
    Returns (loss, dlogits (N, K, ...)). Stable: log-sum-exp after subtracting the max.
    """
    k = logits.shape[1]
    count = labels.size
    z = logits - logits.max(axis=1, keepdims=True)  # (N, K, ...), every exponent <= 0
    picked = xp.take_along_axis(z, xp.expand_dims(labels, 1), axis=1)  # (N, 1, ...)
    xp.exp(z, out=z)
    total = z.sum(axis=1, keepdims=True)  # (N, 1, ...), >= 1
    loss = (xp.log(total) - picked).mean()
    # d loss / d logits = (softmax - one_hot) / count
    z /= total
    classes = xp.arange(k).reshape((1, k) + (1,) * (logits.ndim - 2))
    z -= xp.expand_dims(labels, 1) == classes  # the one-hot, by broadcasting
    z *= 1.0 / count
    return loss, z


def mse(xp: Any, y: Any, target: Any) -> tuple[Any, Any]:
    """Mean squared error over every element of y and target (same shape): (loss, dy)."""
    diff = y - target
    flat = diff.reshape(-1)
    loss = xp.vdot(flat, flat) / diff.size
    diff *= 2.0 / diff.size
    return loss, diff
