"""Batchnorm kernels. Shape rule: cnnc/ops/batchnorm.py.

Input (N, C) or (N, C, *spatial); statistics are per channel, over every other axis, reduced
in place over axes (0, 2, 3, ...) without transposes. Params follow PyTorch: `weight`, `bias`
(absent when not affine), `running_mean`, `running_var` (state, updated in place in training).

Helpers reused by fused kernels (conv + BN + ReLU):
- `channel_stats(xp, x) -> (mean, var)`: batch mean and biased variance per channel.
- `update_running_stats(xp, params, mean, var, count, momentum)`: PyTorch's running update.
- `scale_shift(xp, mean, inv_std, weight, bias) -> (scale, shift)`: y = x * scale + shift.
- `gradient_sums(xp, g, xhat) -> (dbias, dweight, total, dot, m)`: the backward's sums.
- `backward_from_xhat(xp, dy, xhat, inv_std, weight, training) -> (dx, dweight, dbias)`:
  the backward pass given the normalised input and 1/sqrt(var + eps).
"""

from __future__ import annotations

from typing import Any

from cnnc_runtime import sync_bn

BATCH_STATISTICS = True  # runs on the whole batch under shards.split (runtime/shards.py)


def _axes(ndim: int) -> tuple[int, ...]:
    """Every axis but the channel axis 1."""
    return (0, *range(2, ndim))


def per_channel(v: Any, ndim: int) -> Any:
    """View a (C,) vector as (1, C, 1, ...) so it broadcasts against an ndim-array."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def channel_sum(xp: Any, x: Any, keepdims: bool = False) -> Any:
    """Per-channel sum over every other axis, as accurate as a float64 sum.

    Each (image, channel) row is summed along its contiguous axis in x's dtype (pairwise, so
    its error grows with log(H*W)), and the N partial sums are added in float64. A plain
    float32 sum over strided axes loses about 1e-3 of its value on a ResNet-sized batch;
    PyTorch's CPU BatchNorm accumulates in double too.
    """
    n, c = x.shape[:2]
    rows = x.reshape(n, c, -1).sum(axis=2)  # (N, C)
    total = rows.sum(axis=0, dtype=xp.float64).astype(x.dtype)  # (C,)
    return total.reshape((1, c) + (1,) * (x.ndim - 2)) if keepdims else total


def _centred(xp: Any, x: Any) -> tuple[Any, Any, Any]:
    """(mean (C,), biased var (C,), x - mean (N, C, ...)); two passes for accuracy."""
    count = x.size // x.shape[1]
    mean = channel_sum(xp, x, keepdims=True) / x.dtype.type(count)  # (1, C, 1, ...)
    xc = x - mean  # (N, C, ...), our own buffer: the caller may scale it in place
    var = channel_sum(xp, xp.square(xc)) / x.dtype.type(count)  # (C,)
    return mean.reshape(-1), var, xc


def channel_stats(xp: Any, x: Any) -> tuple[Any, Any]:
    """Batch mean and biased variance of x (N, C, *spatial) per channel: two (C,) arrays.

    The biased variance is what normalises in training; `update_running_stats` makes the
    unbiased one for the running average, like PyTorch.
    """
    mean, var, _ = _centred(xp, x)
    return mean, var


def update_running_stats(xp: Any, params: dict, mean: Any, var: Any, count: int,
                         momentum: float) -> None:
    """Update params' running_mean/running_var (C,) in place from batch statistics.

    `count` is the number of values per channel (N * H * W ...); `var` is biased. PyTorch's
    convention: new = (1 - momentum) * old + momentum * batch, with the unbiased variance.
    """
    unbiased = var * (count / max(count - 1, 1))
    for name, batch in (("running_mean", mean), ("running_var", unbiased)):
        state = params[name]
        state *= 1.0 - momentum
        state += momentum * batch


def scale_shift(xp: Any, mean: Any, inv_std: Any, weight: Any | None,
                bias: Any | None) -> tuple[Any, Any]:
    """(scale, shift), both (C,), with BN(x) = x * scale + shift per channel.

    weight/bias None means not affine (weight 1, bias 0).
    """
    scale = inv_std if weight is None else weight * inv_std
    shift = -mean * scale
    if bias is not None:
        shift += bias
    return scale, shift


def gradient_sums(xp: Any, g: Any, xhat: Any) -> tuple[Any, Any, Any, Any, int]:
    """(dbias, dweight, total, dot, m): sum(g) and sum(g * xhat) per channel (C,) as this
    step's parameter gradients and as the sums over the batch that dx needs, with their
    count; over every rank's batch under --sync-bn and in shards (runtime/sync_bn.py)."""
    if sync_bn.active():
        return sync_bn.gradient_sums(xp, g, xhat)
    dbias, dweight = channel_sum(xp, g), channel_sum(xp, g * xhat)
    return dbias, dweight, dbias, dweight, g.size // g.shape[1]


def backward_from_xhat(xp: Any, dy: Any, xhat: Any | None, inv_std: Any, weight: Any | None,
                       training: bool) -> tuple[Any, Any | None, Any]:
    """Gradients of y = xhat * weight + bias given dy and xhat (N, C, ...), inv_std (C,).

    Returns (dx (N, C, ...), dweight (C,), dbias (C,)). training=True differentiates through
    the batch statistics too; training=False treats mean and inv_std as constants (an affine
    map). In evaluation xhat may be None when no dweight is wanted (it is then None).
    """
    nd = dy.ndim
    scale = inv_std if weight is None else weight * inv_std  # (C,)
    if not training:
        dweight = None if xhat is None else channel_sum(xp, dy * xhat)  # (C,)
        return dy * per_channel(scale, nd), dweight, channel_sum(xp, dy)
    # dx = scale * (dy - mean(dy) - xhat * mean(dy * xhat)), written into one buffer; the
    # means over every rank's batch under --sync-bn (the parameter gradients stay this rank's)
    dbias, dweight, total, dot, m = gradient_sums(xp, dy, xhat)
    dx = xp.multiply(xhat, per_channel(-dot / m, nd))
    dx += dy
    dx -= per_channel(total / m, nd)
    dx *= per_channel(scale, nd)
    return dx, dweight, dbias


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *spatial) = (x - mean) / sqrt(var + eps) * weight + bias, per channel."""
    (x,) = inputs
    nd, eps = x.ndim, attrs["eps"]
    weight, bias = params.get("weight"), params.get("bias")
    if training:
        mean, var, xhat = sync_bn.centred(xp, x) if sync_bn.active() else _centred(xp, x)
        inv_std = 1.0 / xp.sqrt(var + eps)  # (C,)
        xhat *= per_channel(inv_std, nd)  # (N, C, ...), normalised in place
        update_running_stats(xp, params, mean, var, sync_bn.count(x), attrs["momentum"])
        y = xhat  # not affine: y is xhat itself, saved once
        if weight is not None:  # affine: weight and bias come together, as in PyTorch
            y = xhat * per_channel(weight, nd)  # a new array, so the bias goes in place
            y += per_channel(bias, nd)
        return y, {"training": True, "xhat": xhat, "inv_std": inv_std}
    # evaluation: an affine map per channel, one pass
    mean = params["running_mean"].copy()  # copied: a later training step updates it in place
    inv_std = 1.0 / xp.sqrt(params["running_var"] + eps)
    scale, shift = scale_shift(xp, mean, inv_std, weight, bias)
    y = x * per_channel(scale, nd)
    y += per_channel(shift, nd)
    # dweight needs xhat; keep x (not a new array) and rebuild xhat only in backward
    saved = {"training": False, "inv_std": inv_std, "mean": mean}
    return y, saved | ({"x": x} if weight is not None else {})


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, ...) and, when affine, dweight and dbias (C,)."""
    weight = params.get("weight")
    xhat = saved.get("xhat")
    if "x" in saved:  # evaluation with affine: xhat only for dweight
        nd = dy.ndim
        xhat = (saved["x"] - per_channel(saved["mean"], nd)) * per_channel(saved["inv_std"], nd)
    dx, dweight, dbias = backward_from_xhat(xp, dy, xhat, saved["inv_std"], weight,
                                            saved["training"])
    return [dx], ({} if weight is None else {"weight": dweight, "bias": dbias})
