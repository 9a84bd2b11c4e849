"""Upsample kernels. Shape rule: cnnc/ops/upsample.py."""

from __future__ import annotations

from typing import Any

from runtime.kernels import pooling


def _nearest(xp: Any, n: int, m: int, scale: float | None) -> Any:
    """PyTorch's nearest source cell of each of m outputs from n inputs, (m, 1).

    floor(i * r) in float32 like PyTorch (whatever the data type, so that a product landing
    on an integer floors the same way), with r = 1/scale when a scale is given, else n/m; and
    PyTorch's shortcuts i for m == n and i // 2 for m == 2n, which differ from that only for a
    scale other than m/n. (PyTorch's 2D forward and every backward take the shortcuts; its 1D
    and 3D forwards do not, which makes them disagree with their own backward.)"""
    i = xp.arange(m)
    if m == n:
        return i[:, None]
    if m == 2 * n:
        return (i // 2)[:, None]
    r = xp.float32(1.0 / scale) if scale else xp.float32(n) / xp.float32(m)
    src = xp.floor(i.astype(xp.float32) * r).astype(xp.int64)
    return xp.minimum(src, n - 1)[:, None]


def _linear(xp: Any, n: int, m: int, scale: float | None, align_corners: bool,
            dtype: Any) -> tuple[Any, Any]:
    """PyTorch's two source cells and weights of each of m outputs from n inputs, (m, 2) each,
    computed in the data type like PyTorch's CPU kernel."""
    i = xp.arange(m).astype(dtype)
    if align_corners:
        src = i * (dtype.type(n - 1) / dtype.type(m - 1) if m > 1 else dtype.type(0))
    else:
        r = dtype.type(1.0 / scale) if scale else dtype.type(n) / dtype.type(m)
        src = xp.maximum(r * (i + dtype.type(0.5)) - dtype.type(0.5), 0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), n - 1)
    lam = xp.clip(src - i0.astype(dtype), 0, 1)  # weight of the right neighbour
    i1 = i0 + (i0 < n - 1)
    return xp.stack([i0, i1], axis=1), xp.stack([1 - lam, lam], axis=1)


def _taps(xp: Any, attrs: dict, axis: int, n: int, dtype: Any) -> tuple[Any, Any] | None:
    """(source cells, weights) of spatial axis `axis` (0-based), each (m, T); weights None for
    nearest; None when the axis is copied unchanged (PyTorch's shortcut for m == n, taken
    even when a scale says otherwise)."""
    m = attrs["out"][axis]
    if m == n:
        return None
    scale = attrs["scale"][axis] if attrs.get("scale") else None
    if attrs["mode"] == "nearest":
        return _nearest(xp, n, m, scale), None
    return _linear(xp, n, m, scale, attrs["align_corners"], dtype)


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *out): x (N, C, *spatial) resampled like torch.nn.functional.interpolate
    (nearest, or (bi/tri)linear one axis at a time, which is exact: the weights factorise).
    saved: x's shape."""
    (x,) = inputs
    y = x
    for axis in reversed(range(x.ndim - 2)):  # last first: its gather is element-wise, and
        taps = _taps(xp, attrs, axis, x.shape[axis + 2], x.dtype)  # it runs on the smaller map
        if taps is not None:
            y = pooling.gather(xp, y, *taps, axis + 2)
    return (y.copy() if y is x else y), x.shape


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): each input cell collects weight * dy from every output it fed."""
    x_shape = saved
    dx = dy
    for axis in range(len(x_shape) - 2):
        n = x_shape[axis + 2]
        taps = _taps(xp, attrs, axis, n, dy.dtype)
        if taps is not None:
            dx = pooling.gather(xp, dx, *pooling.transpose_taps(xp, *taps, n, dy.dtype), axis + 2)
    return [dx.copy() if dx is dy else dx], {}
