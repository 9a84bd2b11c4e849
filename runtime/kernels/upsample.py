"""Upsample kernels. Shape rule: cnnc/ops/upsample.py."""

from __future__ import annotations

from typing import Any

from cnnc_runtime import blas
from cnnc_runtime.kernels import pooling


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


# Along the last axis a gather reads single elements, which is slow, so that axis is resampled
# by GEMMs with the interpolation matrix instead: a dense (m, n) matrix costs 2n flops per
# output, but it is banded (each output reads 1 or 2 neighbouring cells), so each block of
# outputs is one GEMM with just the input cells it reads. Timed at 2 threads, float32,
# 8192 rows 128 -> 256: gather 4.9 ms, dense GEMM 2.3 ms, banded GEMM 0.5 ms; 16384 rows
# 256 -> 128 (a backward): 5.3, 4.9 and 2.1 ms. Blocks of about 16 input cells were fastest,
# and at least 16 columns keep each GEMM from being too thin. The other axes gather whole
# contiguous rows (memcpy speed); a GEMM there would be one small product per leading index.
# (The zeros inside a block multiply every cell it reads, so an inf input turns the block's
# outputs to NaN where PyTorch's two-tap kernel keeps them finite.)
_BAND = 16


def _matrix(xp: Any, idx: Any, w: Any, n: int, dtype: Any) -> Any:
    """The dense (m, n) interpolation matrix of the taps."""
    mat = xp.zeros((idx.shape[0], n), dtype=dtype)
    rows = xp.arange(idx.shape[0])
    for t in range(idx.shape[1]):  # one tap at a time: a row may name a cell twice
        mat[rows, idx[:, t]] += 1 if w is None else w[:, t]
    return mat


def _banded(xp: Any, x: Any, mat: Any, lo: list[int], hi: list[int]) -> Any:
    """x @ mat over the last axis, x (..., k) and mat (k, j), where output column c only reads
    rows lo[c]:hi[c] of mat (both non-decreasing in c): one GEMM per block of columns (a few
    dozen at most for the map sizes of CNNs)."""
    k, j = mat.shape
    x2 = x.reshape(-1, k)  # (rows, k)
    y2 = xp.empty((x2.shape[0], j), dtype=x.dtype)  # (rows, j)
    step = max(_BAND, _BAND * j // k)
    for a in range(0, j, step):
        b = min(a + step, j)
        c, d = lo[a], max(hi[b - 1], lo[a])
        blas.matmul(xp, x2[:, c:d], mat[c:d, a:b], out=y2[:, a:b])  # d == c writes zeros
    return y2.reshape(x.shape[:-1] + (j,))


def _repeat(xp: Any, x: Any, axis: int, s: int, adjoint: bool) -> Any:
    """Nearest by a whole factor s, where output i reads cell i // s: each cell repeated s
    times, or for the adjoint the sum of each run of s (as s strided slices: a sum over a
    short inner axis is 40x slower in NumPy)."""
    if not adjoint:
        return xp.repeat(x, s, axis=axis)  # (..., n*s, ...)
    lead = (slice(None),) * axis
    dx = x[lead + (slice(0, None, s),)].copy()  # (..., n, ...)
    for r in range(1, s):
        dx += x[lead + (slice(r, None, s),)]
    return dx


def _resample(xp: Any, x: Any, taps: tuple[Any, Any], axis: int, n: int, adjoint: bool) -> Any:
    """x resampled along `axis` by the taps of an n-cell axis (forward: n -> m cells), or by
    their adjoint (backward: m -> n cells)."""
    idx, w = taps
    m = idx.shape[0]
    if w is None and m % n == 0 and bool((idx[:, 0] == xp.arange(m) // (m // n)).all()):
        return _repeat(xp, x, axis, m // n, adjoint)
    if axis == x.ndim - 1:
        first, last = idx.min(axis=1), idx.max(axis=1) + 1  # input cells read, per output
        if adjoint:  # per input cell: the outputs reading it (idx is non-decreasing)
            cells = xp.arange(n)
            first, last = (xp.searchsorted(last - 1, cells, side="left"),
                           xp.searchsorted(first, cells, side="right"))
        mat = _matrix(xp, idx, w, n, x.dtype)  # (m, n)
        return _banded(xp, x, mat if adjoint else mat.T, first.tolist(), last.tolist())
    if adjoint:
        idx, w = pooling.transpose_taps(xp, idx, w, n, x.dtype)
    return pooling.gather(xp, x, idx, w, axis)


def _order(x_shape: tuple[int, ...], attrs: dict) -> list[int]:
    """Spatial axes (0-based) in the order forward resamples them: shrinking axes first and
    growing ones last, so that the costlier resampling works on the smaller arrays. Linear
    gathers on the other axes cost several passes and the last axis's GEMMs little, so among
    equal factors the last axis goes last when growing (first when shrinking); for nearest a
    gather is one row copy and the last axis costs more, so it is the other way round."""
    out, last = attrs["out"], len(attrs["out"]) - 1
    late = 1 if attrs["mode"] == "linear" else -1  # where the last axis goes when growing

    def key(axis: int) -> tuple[float, int]:
        ratio = out[axis] / x_shape[axis + 2]
        return ratio, int(axis == last) * (late if ratio >= 1 else -late)

    return sorted(range(len(out)), key=key)


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *out): x (N, C, *spatial) resampled like torch.nn.functional.interpolate
    (nearest, or (bi/tri)linear one axis at a time, which is exact: the weights factorise).
    A second input only gave the compiler the output size (attrs["out"]; Rule.size_inputs),
    so it is not an input here. saved: x's shape."""
    (x,) = inputs
    y = x
    for axis in _order(x.shape, attrs):
        n = x.shape[axis + 2]
        taps = _taps(xp, attrs, axis, n, x.dtype)
        if taps is not None:
            y = _resample(xp, y, taps, axis + 2, n, adjoint=False)
    return (y.copy() if y is x else y), x.shape


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): each input cell collects weight * dy from every output it fed."""
    x_shape = saved
    dx = dy
    for axis in reversed(_order(x_shape, attrs)):
        n = x_shape[axis + 2]
        taps = _taps(xp, attrs, axis, n, dy.dtype)
        if taps is not None:
            dx = _resample(xp, dx, taps, axis + 2, n, adjoint=True)
    return [dx.copy() if dx is dy else dx], {}
