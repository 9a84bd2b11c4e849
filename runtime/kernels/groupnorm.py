"""Groupnorm kernels. Shape rule: cnnc/ops/groupnorm.py.

Input (N, C) or (N, C, *spatial). Each sample's C channels are split into `groups` runs of
C / groups, and each run is normalised over its channels and positions with its biased mean and
variance, the same in training and evaluation (no running state, PyTorch's GroupNorm). Params:
`weight`, `bias` (C,), absent when not affine.

Helpers shared with layernorm, which normalises over other axes:
- `normalise(xp, x, axes, eps) -> (xhat, inv_std)` and its gradient `normalise_backward`;
- `affine(xp, xhat, params)` (y = xhat * weight + bias per channel) and `affine_backward`.
"""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels.batchnorm import channel_sum, per_channel


def normalise(xp: Any, x: Any, axes: tuple[int, ...], eps: float) -> tuple[Any, Any]:
    """(xhat, inv_std): x standardised over `axes`, and 1/sqrt(var + eps) with those axes kept
    as 1. Two passes (mean, then the variance of x - mean): exact for large means."""
    xhat = x - x.mean(axis=axes, keepdims=True)  # our own buffer, standardised in place
    inv_std = 1 / xp.sqrt(xp.square(xhat).mean(axis=axes, keepdims=True) + eps)
    xhat *= inv_std
    return xhat, inv_std


def normalise_backward(xp: Any, dxhat: Any, xhat: Any, inv_std: Any,
                       axes: tuple[int, ...]) -> Any:
    """dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), means over `axes`."""
    dx = xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)
    xp.subtract(dxhat, dx, out=dx)
    dx -= dxhat.mean(axis=axes, keepdims=True)
    dx *= inv_std
    return dx


def affine(xp: Any, xhat: Any, params: dict) -> Any:
    """y (N, C, ...) = xhat * weight + bias per channel; xhat itself when not affine."""
    weight = params.get("weight")
    if weight is None:
        return xhat
    y = xhat * per_channel(weight, xhat.ndim)
    y += per_channel(params["bias"], xhat.ndim)
    return y


def affine_backward(xp: Any, dy: Any, xhat: Any, params: dict) -> tuple[Any, dict]:
    """(dxhat, {weight, bias gradients (C,)}) of `affine`; dy and {} when not affine."""
    weight = params.get("weight")
    if weight is None:
        return dy, {}
    dparams = {"weight": channel_sum(xp, dy * xhat), "bias": channel_sum(xp, dy)}
    return dy * per_channel(weight, dy.ndim), dparams


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *spatial) = (x - mean) / sqrt(var + eps) * weight + bias, statistics per
    sample and group."""
    (x,) = inputs
    groups = x.reshape(x.shape[0], attrs["groups"], -1)  # (N, G, C/G * prod(spatial))
    # the reduced axis is contiguous, so NumPy sums it pairwise: float32 stays accurate
    xhat, inv_std = normalise(xp, groups, (2,), attrs["eps"])
    xhat = xhat.reshape(x.shape)
    return affine(xp, xhat, params), {"xhat": xhat, "inv_std": inv_std}


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, ...) and, when affine, dweight and dbias (C,)."""
    xhat = saved["xhat"]
    dxhat, dparams = affine_backward(xp, dy, xhat, params)
    shape = (dy.shape[0], attrs["groups"], -1)
    dx = normalise_backward(xp, dxhat.reshape(shape), xhat.reshape(shape), saved["inv_std"], (2,))
    return [dx.reshape(dy.shape)], dparams
