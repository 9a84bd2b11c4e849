"""The compiled twin of runtime/kernels/conv.py's im2col convolution on the CPU, for 1D and
2D convolutions with zero padding (other convs take the NumPy path; a 1D conv runs as a 2D one
of height 1). The column layout is conv.py's plain one: cols (C*prod(K), N*prod(out)), rows
in (channel, kernel offset) order, so a grouped conv's matrix is a view of it.

Two schedules, as in winograd_cpu.py:
- fused, where the weight is small (O x C*prod(K) < FUSED_WEIGHT) and there is one group:
  each worker takes units of whole images through im2col, its own single-threaded GEMM and
  the write-out (bias, ReLU) while the unit's columns stay in its cache; backward likewise,
  each worker summing its share of the weight gradient (added in worker order);
- otherwise conv.py's chunk loop, with each pass (im2col, col2im, the copies between the
  column layout and NCHW) one compiled loop over the workers and the GEMMs in blas.matmul.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import prange

from cnnc_runtime import blas, jit

# Indices that are known to be in range, as unsigned: Numba then skips its negative-index
# wraparound test, which otherwise stops LLVM vectorising the loop (5-7x slower copies).
U = np.uint64


def applies(xp: Any, ndim: int, dtype: Any, mode: str) -> bool:
    """Whether the compiled passes take a conv of an ndim-array of `dtype`: NumPy floats, 1D
    or 2D, zero padding (its geometry then has the plain layout: conv.geometry(plain=True))."""
    return jit.enabled(xp) and ndim in (3, 4) and mode == "zeros" and np.dtype(dtype).kind == "f"


def as_2d(x: Any, geo: Any) -> tuple[Any, tuple]:
    """x (N, C, *S) as (N, C, H, W) and the window parameters per axis, for 1D or 2D."""
    n, c = x.shape[:2]
    x4 = np.ascontiguousarray(x).reshape(n, c, -1, x.shape[-1])
    lift = (lambda t: (1, *t) if len(t) == 1 else tuple(t))
    pads = [(0, 0)] * (2 - len(geo.pads)) + list(geo.pads)
    return x4, (lift(geo.kernel), lift(geo.stride), lift(geo.dilation),
                (pads[0][0], pads[1][0]), lift(geo.out))


UNIT_BYTES = 1 << 19  # columns per unit of the fused schedule: about half of one core's L2
FUSED_WEIGHT = 1 << 15  # O x C*prod(K) from which one GEMM per chunk packs the weight once


def fused(xp: Any, x: Any, w: Any, geo: Any, groups: int, mode: str) -> bool:
    """Whether the fused schedule takes this conv."""
    return (applies(xp, x.ndim, x.dtype, mode) and groups == 1 and w.dtype == x.dtype
            and w.shape[0] * math.prod(w.shape[1:]) < FUSED_WEIGHT)


def forward(x: Any, w: Any, bias: Any, relu: bool, geo: Any) -> Any:
    """y (N, O, *out) of x (N, C, *S), fused schedule."""
    x4, (k, s, d, p, out) = as_2d(x, geo)
    n, c = x4.shape[:2]
    o = w.shape[0]
    y = np.empty((n, o, *geo.out), x.dtype)
    b = np.zeros(o, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    units = _units(n, c * k[0] * k[1] * out[0] * out[1] * x.dtype.itemsize, jit.threads())
    _fused_forward(x4, np.ascontiguousarray(w).reshape(o, -1), b, relu, k[0], k[1], s[0], s[1],
                   d[0], d[1], p[0], p[1], out[0], out[1], units, y.reshape(n, o, -1))
    return y


def backward(dy: Any, x: Any, w: Any, geo: Any, need_dx: bool) -> tuple[Any, Any, Any]:
    """(dx (N, C, *S) or None, dw (O, C, *K), db (O,)) from dy (N, O, *out), fused."""
    x4, (k, s, d, p, out) = as_2d(x, geo)
    n, c = x4.shape[:2]
    o = w.shape[0]
    units = _units(n, c * k[0] * k[1] * out[0] * out[1] * x.dtype.itemsize, jit.threads())
    workers = min(jit.threads(), len(units))
    shares = np.linspace(0, len(units), workers + 1).astype(np.int64)  # contiguous runs
    parts = np.zeros((workers, o, w[0].size), x.dtype)
    bias_parts = np.zeros((workers, o), np.float64)
    dx = np.empty_like(x4) if need_dx else np.empty((0, c, 1, 1), x.dtype)
    _fused_backward(x4, np.ascontiguousarray(dy, x.dtype).reshape(n, o, -1),
                    np.ascontiguousarray(w).reshape(o, -1), k[0], k[1], s[0], s[1], d[0], d[1],
                    p[0], p[1], out[0], out[1], units, shares, need_dx, dx, parts, bias_parts)
    dw = parts[0].copy()
    for part in parts[1:]:  # in worker order: the same bits on every run with these threads
        dw += part
    db = bias_parts.sum(axis=0).astype(x.dtype)
    return (dx.reshape(x.shape) if need_dx else None), dw.reshape(w.shape), db


def _units(n: int, per_image: int, threads: int) -> np.ndarray:
    """(n0, n1) image ranges of about UNIT_BYTES of columns each, at least one image, and at
    least one unit per thread."""
    per = max(1, min(UNIT_BYTES // max(per_image, 1), -(-n // threads)))
    return np.array([(a, min(a + per, n)) for a in range(0, n, per)], np.int64)


def im2col(x: Any, geo: Any) -> Any:
    """cols (C*prod(K), N*prod(out)) of x (N, C, *S)."""
    x4, (k, s, d, p, out) = as_2d(x, geo)
    n, c = x4.shape[:2]
    cols = np.empty((c * k[0] * k[1], n * out[0] * out[1]), x.dtype)
    _im2col(x4, k[0], k[1], s[0], s[1], d[0], d[1], p[0], p[1], out[0], out[1], cols)
    return cols


def col2im(cols: Any, geo: Any, dx: Any) -> None:
    """dx (N, C, *S), C-contiguous, = the adjoint of im2col applied to cols."""
    dx4, (k, s, d, p, out) = as_2d(dx, geo)
    _col2im(cols, k[0], k[1], s[0], s[1], d[0], d[1], p[0], p[1], out[0], out[1], dx4)


def from_columns(res: Any, bias: Any, relu: bool, y: Any) -> None:
    """y (N, O, *out) = res (O, N*prod(out)) + bias (O,) when given, max(., 0) with `relu`."""
    n, o = y.shape[:2]
    b = np.zeros(o, y.dtype) if bias is None else np.ascontiguousarray(bias, y.dtype)
    _from_columns(np.ascontiguousarray(res), b, relu, y.reshape(n, o, -1))


def add_bias(y: Any, bias: Any, relu: bool) -> None:
    """y (N, O, *S) += bias (O,) when given, then max(., 0) with `relu`, in place."""
    if bias is not None or relu:
        n, o = y.shape[:2]
        b = np.zeros(o, y.dtype) if bias is None else np.ascontiguousarray(bias, y.dtype)
        y3 = y.reshape(n, o, -1)
        _from_columns_rows(y3, b, relu)


def to_columns(dy: Any) -> Any:
    """dy (N, O, *out) as (O, N*prod(out))."""
    n, o = dy.shape[:2]
    d3 = np.ascontiguousarray(dy).reshape(n, o, -1)
    out = np.empty((o, d3.size // o), dy.dtype)
    _to_columns(d3, out)
    return out


@jit.compiled()
def inside(left: int, sw: int, w: int, wo: int) -> tuple[int, int]:
    """The outputs lo..hi-1 whose input column ox * sw - left lies in [0, w)."""
    lo = min(max(0, -(-left // sw)), wo)
    return lo, max(min(wo, (w - 1 + left) // sw + 1), lo)


@jit.compiled()
def _columns(x: Any, n0: int, n1: int, row: int, kh: int, kw: int, sh: int, sw: int, dh: int,
             dw: int, pt: int, pl: int, ho: int, wo: int, cols: Any, col0: int) -> None:
    """Row `row` (channel, ky, kx) of the columns of images n0..n1-1, into cols[row] from
    column col0 on; the row's geometry is worked out once for all of them."""
    h, w = x.shape[2], x.shape[3]
    ch, ky, kx = row // (kh * kw), (row // kw) % kh, row % kw
    left = pl - kx * dw
    lo, hi = inside(left, sw, w, wo)
    for i in range(n0, n1):
        for oy in range(ho):
            iy = oy * sh - pt + ky * dh
            base = col0 + ((i - n0) * ho + oy) * wo
            if iy < 0 or iy >= h:
                for ox in range(wo):
                    cols[row, U(base + ox)] = 0
                continue
            for ox in range(lo):
                cols[row, U(base + ox)] = 0
            if sw == 1:  # a contiguous run: a vector copy
                for ox in range(lo, hi):
                    cols[row, U(base + ox)] = x[i, ch, iy, U(ox - left)]
            else:
                for ox in range(lo, hi):
                    cols[row, U(base + ox)] = x[i, ch, iy, U(ox * sw - left)]
            for ox in range(hi, wo):
                cols[row, U(base + ox)] = 0


@jit.compiled()
def _add_columns(cols: Any, n0: int, n1: int, ch: int, kh: int, kw: int, sh: int, sw: int,
                 dh: int, dw: int, pt: int, pl: int, ho: int, wo: int, dx: Any,
                 col0: int) -> None:
    """dx[n0:n1, ch] = the adjoint of _columns for every kernel offset of channel ch."""
    h, w = dx.shape[2], dx.shape[3]
    for i in range(n0, n1):
        for r in range(h):
            for q in range(w):
                dx[i, ch, r, q] = 0
    for ky in range(kh):
        for kx in range(kw):
            row = (ch * kh + ky) * kw + kx
            left = pl - kx * dw
            lo, hi = inside(left, sw, w, wo)
            for i in range(n0, n1):
                for oy in range(ho):
                    iy = oy * sh - pt + ky * dh
                    if 0 <= iy < h:
                        base = col0 + ((i - n0) * ho + oy) * wo
                        if sw == 1:
                            for ox in range(lo, hi):
                                dx[i, ch, iy, U(ox - left)] += cols[row, U(base + ox)]
                        else:
                            for ox in range(lo, hi):
                                dx[i, ch, iy, U(ox * sw - left)] += cols[row, U(base + ox)]


@jit.compiled(parallel=True)
def _im2col(x: Any, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, pt: int, pl: int,
            ho: int, wo: int, cols: Any) -> None:
    """One (row, image) per work item."""
    n, c = x.shape[:2]
    for item in prange(c * kh * kw * n):
        row, i = item // n, item % n
        _columns(x, i, i + 1, row, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, cols, i * ho * wo)


@jit.compiled(parallel=True)
def _col2im(cols: Any, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, pt: int,
            pl: int, ho: int, wo: int, dx: Any) -> None:
    """One (channel, image) plane per work item: its kernel offsets add into it alone."""
    n, c = dx.shape[:2]
    for item in prange(c * n):
        ch, i = item // n, item % n
        _add_columns(cols, i, i + 1, ch, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, dx, i * ho * wo)


@jit.compiled(parallel=True)
def _from_columns(res: Any, bias: Any, relu: bool, y: Any) -> None:
    n, o, p = y.shape
    for r in prange(n * o):
        i, ch = r // o, r % o
        b = bias[ch]
        for e in range(p):
            z = res[ch, U(i * p + e)] + b
            y[i, ch, e] = 0 if relu and z < 0 else z  # NaN stays NaN, as in np.maximum


@jit.compiled(parallel=True)
def _from_columns_rows(y: Any, bias: Any, relu: bool) -> None:
    n, o, p = y.shape
    for r in prange(n * o):
        i, ch = r // o, r % o
        b = bias[ch]
        for e in range(p):
            z = y[i, ch, e] + b
            y[i, ch, e] = 0 if relu and z < 0 else z


@jit.compiled(parallel=True)
def _to_columns(dy: Any, out: Any) -> None:
    n, o, p = dy.shape
    for r in prange(n * o):
        i, ch = r // o, r % o
        for e in range(p):
            out[ch, U(i * p + e)] = dy[i, ch, e]


@jit.compiled()
def _unit_columns(x: Any, n0: int, n1: int, kh: int, kw: int, sh: int, sw: int, dh: int,
                  dw: int, pt: int, pl: int, ho: int, wo: int, cols: Any) -> None:
    """cols (C*KK, (n1-n0)*Ho*Wo) of images n0..n1-1, on the calling thread."""
    for row in range(x.shape[1] * kh * kw):
        _columns(x, n0, n1, row, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, cols, 0)


@jit.compiled(parallel=True)
def _fused_forward(x: Any, w2: Any, bias: Any, relu: bool, kh: int, kw: int, sh: int, sw: int,
                   dh: int, dw: int, pt: int, pl: int, ho: int, wo: int, units: Any,
                   y: Any) -> None:
    """y (N, O, Ho*Wo): each unit of images on one worker, start to end."""
    c, o, p = x.shape[1], w2.shape[0], ho * wo
    for u in prange(units.shape[0]):
        blas.single_threaded()
        n0, n1 = units[u, 0], units[u, 1]
        cols = np.empty((c * kh * kw, (n1 - n0) * p), x.dtype)
        _unit_columns(x, n0, n1, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, cols)
        res = np.empty((o, (n1 - n0) * p), x.dtype)
        blas.gemm(w2, cols, res, 0.0)
        for i in range(n0, n1):
            for ch in range(o):
                b = bias[ch]
                for e in range(p):
                    z = res[ch, U((i - n0) * p + e)] + b
                    y[i, ch, e] = 0 if relu and z < 0 else z  # NaN stays NaN


@jit.compiled(parallel=True)
def _fused_backward(x: Any, dy: Any, w2: Any, kh: int, kw: int, sh: int, sw: int, dh: int,
                    dw: int, pt: int, pl: int, ho: int, wo: int, units: Any, shares: Any,
                    need_dx: bool, dx: Any, parts: Any, bias_parts: Any) -> None:
    """dx (N, C, H, W) and parts[k] (O, C*KK) and bias_parts[k] (O,), worker k's shares of
    dw and db, from dy (N, O, Ho*Wo); worker k takes units shares[k]..shares[k+1]-1."""
    c, o, p = x.shape[1], w2.shape[0], ho * wo
    for worker in prange(shares.shape[0] - 1):
        blas.single_threaded()
        for u in range(shares[worker], shares[worker + 1]):
            n0, n1 = units[u, 0], units[u, 1]
            cols = np.empty((c * kh * kw, (n1 - n0) * p), x.dtype)
            _unit_columns(x, n0, n1, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, cols)
            g = np.empty((o, (n1 - n0) * p), x.dtype)
            for i in range(n0, n1):
                for ch in range(o):
                    total = 0.0
                    for e in range(p):
                        v = dy[i, ch, e]
                        g[ch, U((i - n0) * p + e)] = v
                        total += v
                    bias_parts[worker, ch] += total
            blas.gemm(g, cols.T, parts[worker], 1.0)
            if need_dx:
                blas.gemm(w2.T, g, cols, 0.0)  # the column gradient, over the columns
                for ch in range(c):
                    _add_columns(cols, n0, n1, ch, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo, dx, 0)
