"""Winograd F(4x4, 3x3) on the CPU: the compiled twin of runtime/kernels/winograd.py, which
holds the algorithm and its NumPy reference.

The transforms need long contiguous vectors to run fast, and NCHW maps have short rows. So
each image's channels are first transposed to (pixel, channel) rows (OpenBLAS's blocked
transpose), and every transform is a loop over one pixel's vector, of (image x channel)
values. Two ways to schedule the stages, chosen by size:

- fused, for small filters: the batch is cut into units (images, or bands of tile rows of
  one large map) of about UNIT_BYTES of transformed input, and each Numba worker takes its
  units through every stage (transpose, transform, 36 single-threaded GEMMs, output
  transform with bias and ReLU, transpose back) while they stay in its cache;
- staged, where one transformed filter U[pos] (C, O) is large (C x O >= STAGED_FILTER), or in
  backward when there are fewer images than threads: every unit's transform, then the 36
  GEMMs over all rows at once, one position per worker (a GEMM of a few rows would repack U
  each time), then the output stage.

In backward the weight gradient is summed per worker and the workers' sums are added in worker
order, so a run gives the same bits every time at a given thread count.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import prange

from cnnc_runtime import blas, jit
from cnnc_runtime.kernels import winograd_transforms as transforms

Pads = tuple[tuple[int, int], tuple[int, int]]

UNIT_BYTES = 1 << 19  # transformed input per unit: about half of one core's L2
STAGED_FILTER = 1 << 15  # C x O from which the GEMMs take all rows at once


def forward(x: Any, u: Any, bias: Any, pads: Pads, relu: bool) -> Any:
    """y (N, O, Ho, Wo) of x (N, C, H, W): see winograd.forward."""
    n, c, h, w = x.shape
    o = u.shape[2]
    (pt, pb), (pl, pr) = pads
    ho, wo = h + pt + pb - 2, w + pl + pr - 2
    th, tw = -(-ho // 4), -(-wo // 4)
    x2 = np.ascontiguousarray(x).reshape(n * c, h * w)
    y = np.empty((n, o, ho, wo), x.dtype)
    y2, u = y.reshape(n * o, ho * wo), np.ascontiguousarray(u, x.dtype)
    b = np.zeros(o, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    if c * o >= STAGED_FILTER:
        units = _units(n, th, tw, c, x.dtype.itemsize, images=False)
        v = np.empty((36, n * th * tw, c), x.dtype)
        _staged_input(x2, h, w, pt, pl, th, tw, units, v)
        m = np.empty((36, n * th * tw, o), x.dtype)
        _staged_products(v, u, transforms.coefficients(x.dtype), m, _pieces())
        _staged_output(m, b, relu, ho, wo, th, tw, units, y2)
    else:
        units = _units(n, th, tw, c, x.dtype.itemsize, images=True)
        _fused_forward(x2, u, b, relu, h, w, pt, pl, ho, wo, units, y2)
    return y


def backward(dy: Any, x: Any, u: Any, pads: Pads, need_dx: bool) -> tuple[Any, Any]:
    """(dx or None, the filters' gradient in u's form) from dy (N, O, Ho, Wo): see
    winograd.backward."""
    n, c, h, w = x.shape
    o, ho, wo = dy.shape[1:]
    (pt, _), (pl, _) = pads
    th, tw = -(-ho // 4), -(-wo // 4)
    x2 = np.ascontiguousarray(x).reshape(n * c, h * w)
    dy2 = np.ascontiguousarray(dy, x.dtype).reshape(n * o, ho * wo)
    u = np.ascontiguousarray(u, x.dtype)
    if c * o >= STAGED_FILTER or n < jit.threads():
        dx = np.zeros_like(x) if need_dx else None
        du = _staged_backward(x2, dy2, u, h, w, pt, pl, ho, wo, th, tw, dx)
        return dx, du
    units = _units(n, th, tw, max(c, o), x.dtype.itemsize, images=True, bands=False)
    workers = min(jit.threads(), len(units))
    shares = np.linspace(0, len(units), workers + 1).astype(np.int64)  # contiguous runs
    parts = np.zeros((workers, 36, c, o), x.dtype)
    dx = np.empty_like(x) if need_dx else np.empty((0, c, h, w), x.dtype)
    _fused_backward(x2, dy2, u, h, w, pt, pl, ho, wo, units, shares, need_dx,
                    dx.reshape(-1, h * w), parts)
    return (dx if need_dx else None), _in_order(parts)


def _in_order(parts: Any) -> Any:
    """The workers' partial sums added in worker order (the same bits on every run)."""
    total = parts[0].copy()
    for part in parts[1:]:
        total += part
    return total


def _units(n: int, th: int, tw: int, c: int, itemsize: int, images: bool,
           bands: bool = True) -> np.ndarray:
    """Units of work (n0, n1, r0, r1): images n0..n1-1 and tile rows r0..r1-1, about
    UNIT_BYTES of transformed input each and at least one per thread. Several images share a
    unit only with `images`; a large map is cut into bands of tile rows unless `bands` is
    False."""
    rows = max(1, UNIT_BYTES // (36 * tw * c * itemsize))
    if rows >= th or not bands:
        per = max(1, min(rows // th, -(-n // jit.threads()))) if images else 1
        return np.array([(a, min(a + per, n), 0, th) for a in range(0, n, per)], np.int64)
    return np.array([(a, a + 1, r, min(r + rows, th)) for a in range(n)
                     for r in range(0, th, rows)], np.int64)


def _pieces() -> int:
    """Row blocks per GEMM so that 36 positions spread evenly over the threads."""
    threads = jit.threads()
    return threads // math.gcd(36, threads)


def _staged_backward(x2: Any, dy2: Any, u: Any, h: int, w: int, pt: int, pl: int, ho: int,
                     wo: int, th: int, tw: int, dx: Any) -> Any:
    c, o = u.shape[1], u.shape[2]
    n = x2.shape[0] // c
    units = _units(n, th, tw, max(c, o), x2.dtype.itemsize, images=False)
    v = np.empty((36, n * th * tw, c), x2.dtype)
    dm = np.empty((36, n * th * tw, o), x2.dtype)
    _staged_adjoint_input(x2, dy2, h, w, pt, pl, ho, wo, th, tw, units, v, dm)
    workers = jit.threads()
    shares = np.linspace(0, 36, workers + 1).astype(np.int64)  # positions per worker
    parts = np.zeros((workers, *u.shape), x2.dtype)
    _staged_backward_products(v, dm, u, transforms.coefficients(x2.dtype), shares, dx is not None, parts)
    du = parts[0].copy()
    for part in parts[1:]:  # in worker order: the same bits on every run with these threads
        du += part
    if dx is not None:
        dx2 = dx.reshape(n * c, h * w)
        first = (units[:, 2] // max(units[0, 3] - units[0, 2], 1)) % 2 == 0
        for half in (units[first], units[~first]):  # neighbouring bands share two input rows
            _staged_dx(v, h, w, pt, pl, th, tw, half, dx2)
    return du


@jit.compiled()
def _gather(a2: Any, n0: int, n1: int, c: int, p0: int, p1: int) -> Any:
    """Pixels p0..p1-1 of images n0..n1-1 of a2 (N*C, pixels) as (pixel, image x channel)
    rows, plus a last row of zeros."""
    out = np.empty((p1 - p0 + 1, (n1 - n0) * c), a2.dtype)
    out[-1] = 0
    for j in range(n1 - n0):
        blas.transpose(a2[(n0 + j) * c:(n0 + j + 1) * c, p0:p1], out[:-1, j * c:(j + 1) * c])
    return out


@jit.compiled()
def _scatter(at: Any, n0: int, n1: int, c: int, p0: int, a2: Any) -> None:
    """The inverse of _gather: a2[image x channel rows, p0..] = at (pixel, image x channel)."""
    p1 = p0 + at.shape[0] - 1
    for j in range(n1 - n0):
        blas.transpose(at[:-1, j * c:(j + 1) * c], a2[(n0 + j) * c:(n0 + j + 1) * c, p0:p1])


@jit.compiled(parallel=True)
def _fused_forward(x2: Any, u: Any, bias: Any, relu: bool, h: int, w: int, pt: int, pl: int,
                   ho: int, wo: int, units: Any, y2: Any) -> None:
    """y2 (N*O, Ho*Wo) of x2 (N*C, H*W), each unit on one worker from start to end."""
    c, o = u.shape[1], u.shape[2]
    tw = (wo + 3) // 4
    for i in prange(units.shape[0]):
        blas.single_threaded()
        n0, n1, r0, r1 = units[i, 0], units[i, 1], units[i, 2], units[i, 3]
        nb, tiles = n1 - n0, (r1 - r0) * tw
        y0, y1 = max(4 * r0 - pt, 0), min(4 * r1 - pt + 2, h)  # the input rows it reads
        xt = _gather(x2, n0, n1, c, y0 * w, max(y1, y0) * w)
        v = np.empty((36, tiles, nb * c), x2.dtype)
        transforms._input_transform(xt, y0, w, pt, pl, r0, r1, tw, v, 0)
        m = np.empty((36, tiles, nb * o), x2.dtype)
        for pos in range(36):
            blas.gemm(v[pos].reshape(tiles * nb, c), u[pos], m[pos].reshape(tiles * nb, o), 0.0)
        bias_row = np.empty(nb * o, x2.dtype)  # the bias of each (image, channel) column
        for j in range(nb):
            bias_row[j * o:(j + 1) * o] = bias
        yt = np.empty(((min(4 * r1, ho) - 4 * r0) * wo + 1, nb * o), x2.dtype)
        transforms._output_transform(m, 0, r0, r1, tw, ho, wo, bias_row, relu, yt)
        _scatter(yt, n0, n1, o, 4 * r0 * wo, y2)


@jit.compiled(parallel=True)
def _fused_backward(x2: Any, dy2: Any, u: Any, h: int, w: int, pt: int, pl: int, ho: int,
                    wo: int, units: Any, shares: Any, need_dx: bool, dx2: Any,
                    parts: Any) -> None:
    """dx2 (N*C, H*W) and parts[k] (36, C, O), worker k's share of dU, from dy2 (N*O,
    Ho*Wo) and x2; worker k takes units shares[k]..shares[k+1]-1, whole images each."""
    c, o = u.shape[1], u.shape[2]
    th, tw = (ho + 3) // 4, (wo + 3) // 4
    for worker in prange(shares.shape[0] - 1):
        blas.single_threaded()
        for i in range(shares[worker], shares[worker + 1]):
            n0, n1 = units[i, 0], units[i, 1]
            rows = th * tw * (n1 - n0)
            xt = _gather(x2, n0, n1, c, 0, h * w)
            v = np.empty((36, th * tw, (n1 - n0) * c), x2.dtype)
            transforms._input_transform(xt, 0, w, pt, pl, 0, th, tw, v, 0)
            dm = np.empty((36, th * tw, (n1 - n0) * o), x2.dtype)
            transforms._output_adjoint(_gather(dy2, n0, n1, o, 0, ho * wo), 0, th, tw, wo, dm, 0)
            for pos in range(36):
                blas.gemm(v[pos].reshape(rows, c).T, dm[pos].reshape(rows, o), parts[worker, pos],
                          1.0)
            if need_dx:
                for pos in range(36):  # dV = dM U^T, written over V
                    blas.gemm(dm[pos].reshape(rows, o), u[pos].T, v[pos].reshape(rows, c), 0.0)
                dxt = np.zeros_like(xt)
                transforms._input_adjoint(v, 0, 0, th, tw, 0, w, pt, pl, dxt)
                _scatter(dxt, n0, n1, c, 0, dx2)


@jit.compiled(parallel=True)
def _staged_input(x2: Any, h: int, w: int, pt: int, pl: int, th: int, tw: int, units: Any,
                  v: Any) -> None:
    """v (36, N*th*tw, C): every unit's tiles, one image per unit."""
    c = v.shape[2]
    for i in prange(units.shape[0]):
        n, r0, r1 = units[i, 0], units[i, 2], units[i, 3]
        y0, y1 = max(4 * r0 - pt, 0), min(4 * r1 - pt + 2, h)
        xt = _gather(x2, n, n + 1, c, y0 * w, max(y1, y0) * w)
        transforms._input_transform(xt, y0, w, pt, pl, r0, r1, tw, v, (n * th + r0) * tw)


@jit.compiled(parallel=True)
def _staged_products(v: Any, u: Any, coef: Any, m: Any, pieces: int) -> None:
    """m[pos] = v[pos] @ U[pos] for the 36 positions, each in `pieces` blocks of rows."""
    rows = m.shape[1]
    step = -(-rows // pieces)
    for item in prange(36 * pieces):
        blas.single_threaded()
        pos, lo = item // pieces, (item % pieces) * step
        hi = min(rows, lo + step)
        if lo < hi:
            filt = transforms._filter_at(u, coef, pos, np.empty((u.shape[1], u.shape[2]), u.dtype))
            blas.gemm(v[pos, lo:hi], filt, m[pos, lo:hi], 0.0)


@jit.compiled(parallel=True)
def _staged_backward_products(v: Any, dm: Any, u: Any, coef: Any, shares: Any, need_dx: bool,
                              parts: Any) -> None:
    """Worker k, for positions shares[k]..shares[k+1]-1: parts[k] += the filters' gradient
    in u's form (dU[pos] = V[pos]^T dM[pos], or its sum over positions onto the 9 rows), and
    v[pos] = dV[pos] = dM[pos] U[pos]^T when `need_dx` (V[pos] is used up first)."""
    c, o = u.shape[1], u.shape[2]
    for worker in prange(shares.shape[0] - 1):
        blas.single_threaded()
        du = np.empty((c, o), v.dtype)
        scratch = np.empty((c, o), v.dtype)
        for pos in range(shares[worker], shares[worker + 1]):
            if u.shape[0] == 36:
                blas.gemm(v[pos].T, dm[pos], parts[worker, pos], 0.0)
            else:
                blas.gemm(v[pos].T, dm[pos], du, 0.0)
                for ij in range(9):
                    k = coef[pos, ij]
                    if k != 0:
                        for ch in range(c):
                            for e in range(o):
                                parts[worker, ij, ch, e] += k * du[ch, e]
            if need_dx:
                blas.gemm(dm[pos], transforms._filter_at(u, coef, pos, scratch).T, v[pos], 0.0)


@jit.compiled(parallel=True)
def _staged_output(m: Any, bias: Any, relu: bool, ho: int, wo: int, th: int, tw: int,
                   units: Any, y2: Any) -> None:
    """y2 (N*O, Ho*Wo) from m (36, N*th*tw, O), unit by unit."""
    o = m.shape[2]
    for i in prange(units.shape[0]):
        blas.single_threaded()
        n, r0, r1 = units[i, 0], units[i, 2], units[i, 3]
        yt = np.empty(((min(4 * r1, ho) - 4 * r0) * wo + 1, o), m.dtype)
        transforms._output_transform(m, (n * th + r0) * tw, r0, r1, tw, ho, wo, bias, relu, yt)
        _scatter(yt, n, n + 1, o, 4 * r0 * wo, y2)


@jit.compiled(parallel=True)
def _staged_adjoint_input(x2: Any, dy2: Any, h: int, w: int, pt: int, pl: int, ho: int,
                          wo: int, th: int, tw: int, units: Any, v: Any, dm: Any) -> None:
    """v (36, N*th*tw, C) as in _staged_input, and dm (36, N*th*tw, O) = A dY A^T."""
    c, o = v.shape[2], dm.shape[2]
    for i in prange(units.shape[0]):
        blas.single_threaded()
        n, r0, r1 = units[i, 0], units[i, 2], units[i, 3]
        t0 = (n * th + r0) * tw
        y0, y1 = max(4 * r0 - pt, 0), min(4 * r1 - pt + 2, h)
        transforms._input_transform(_gather(x2, n, n + 1, c, y0 * w, max(y1, y0) * w), y0, w, pt, pl,
                         r0, r1, tw, v, t0)
        dyt = _gather(dy2, n, n + 1, o, 4 * r0 * wo, min(4 * r1, ho) * wo)
        transforms._output_adjoint(dyt, r0, r1, tw, wo, dm, t0)


@jit.compiled(parallel=True)
def _staged_dx(dv: Any, h: int, w: int, pt: int, pl: int, th: int, tw: int, units: Any,
               dx2: Any) -> None:
    """dx2 (N*C, H*W) += B dV B^T of each unit's tiles; units that run together must not be
    neighbouring bands of one image (they share input rows)."""
    c = dv.shape[2]
    for i in prange(units.shape[0]):
        blas.single_threaded()
        n, r0, r1 = units[i, 0], units[i, 2], units[i, 3]
        y0, y1 = max(4 * r0 - pt, 0), min(4 * r1 - pt + 2, h)
        dxt = np.zeros(((y1 - y0) * w + 1, c), dv.dtype)
        transforms._input_adjoint(dv, (n * th + r0) * tw, r0, r1, tw, y0, w, pt, pl, dxt)
        band = np.empty((c, (y1 - y0) * w), dv.dtype)
        blas.transpose(dxt[:-1], band)
        dx2[n * c:(n + 1) * c, y0 * w:y1 * w] += band
