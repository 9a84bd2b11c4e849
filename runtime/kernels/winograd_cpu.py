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

from runtime import blas, jit

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
        _staged_products(v, u, coefficients(x.dtype), m, _pieces())
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


def filter_rows(w: Any) -> Any:
    """w (O, C, 3, 3) as (9, C, O): the form of a large filter, whose U[pos] is made from
    these nine (C, O) slices as its GEMM runs (36 of them would take 4x the weight's memory)."""
    o, c = w.shape[:2]
    rows = np.empty((9, c, o), w.dtype)
    _filter_rows(np.ascontiguousarray(w).reshape(o, c, 9), rows)
    return rows


def coefficients(dtype: Any) -> Any:
    """(36, 9): U[6a + b] = sum over i, j of coef[6a + b, 3i + j] * w[:, :, i, j]^T."""
    from runtime.kernels.winograd import G
    return np.einsum("ai,bj->abij", G, G).reshape(36, 9).astype(dtype)


def filter_transform(w: Any, g: Any) -> Any:
    """U (36, C, O) = G w G^T of w (O, C, 3, 3), with g = G in w's dtype."""
    o, c = w.shape[:2]
    wt = np.empty((c * 9, o), w.dtype)  # (c, i, j) rows of output channels
    _transpose(np.ascontiguousarray(w).reshape(o, c * 9), wt)
    u = np.empty((36, c, o), w.dtype)
    _filter_transform(wt.reshape(c, 9, o), g, u)
    return u


def filter_transform_adjoint(du: Any, g: Any) -> Any:
    """dw (O, C, 3, 3) = G^T dU G of du (36, C, O)."""
    c, o = du.shape[1:]
    dwt = np.empty((c, 9, o), du.dtype)
    _filter_adjoint(np.ascontiguousarray(du), g, dwt)
    dw = np.empty((o, c * 9), du.dtype)
    _transpose(dwt.reshape(c * 9, o), dw)
    return dw.reshape(o, c, 3, 3)


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
    _staged_backward_products(v, dm, u, coefficients(x2.dtype), shares, dx is not None, parts)
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
def _constants(like: Any) -> Any:
    """The transforms' coefficients in the arrays' own dtype (a literal would promote float32
    arithmetic to float64): 1/2, 3/2, 2, 5/2, 4, 8, 1/4, 1/8."""
    k = np.empty(8, like.dtype)
    k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7] = 0.5, 1.5, 2, 2.5, 4, 8, 0.25, 0.125
    return k


# The 1D transforms (the rows of winograd.BT and AT, and their adjoints), each over vectors.
# They index whole arrays instead of taking views, which in compiled code cost two atomic
# reference counts each (6x slower on 64-wide rows); rows of pixels outside the image are a
# spare last row: zeros to read, scratch to write.

@jit.compiled()
def _bt_columns(x: Any, i0: int, i1: int, i2: int, i3: int, i4: int, i5: int, tmp: Any,
                s: int, k: Any) -> None:
    """tmp[s, 0..5] = B^T (rows i0..i5 of x): one column of a tile, down its rows."""
    half, one_half, two, two_half = k[0], k[1], k[2], k[3]
    for p in range(x.shape[1]):
        a0, a1, a2, a3, a4, a5 = x[i0, p], x[i1, p], x[i2, p], x[i3, p], x[i4, p], x[i5, p]
        tmp[s, 0, p] = a0 + a4 - two * a2 + one_half * (a3 - a1)
        tmp[s, 1, p] = a4 - a1 + half * a2 + two_half * a3
        tmp[s, 2, p] = a4 + a1 - two_half * a2 + half * a3
        tmp[s, 3, p] = a4 - a2 + two * (a3 - a1)
        tmp[s, 4, p] = a4 - a2 + half * (a1 - a3)
        tmp[s, 5, p] = a5 + a1 - one_half * a2 - two * a3 + one_half * a4


@jit.compiled()
def _bt_rows(tmp: Any, a: int, v: Any, t: int, k: Any) -> None:
    """v[6a..6a+5, t] = B^T (tmp[0..5, a]): across the columns of row combination a."""
    half, one_half, two, two_half = k[0], k[1], k[2], k[3]
    for p in range(tmp.shape[2]):
        a0, a1, a2 = tmp[0, a, p], tmp[1, a, p], tmp[2, a, p]
        a3, a4, a5 = tmp[3, a, p], tmp[4, a, p], tmp[5, a, p]
        v[6 * a, t, p] = a0 + a4 - two * a2 + one_half * (a3 - a1)
        v[6 * a + 1, t, p] = a4 - a1 + half * a2 + two_half * a3
        v[6 * a + 2, t, p] = a4 + a1 - two_half * a2 + half * a3
        v[6 * a + 3, t, p] = a4 - a2 + two * (a3 - a1)
        v[6 * a + 4, t, p] = a4 - a2 + half * (a1 - a3)
        v[6 * a + 5, t, p] = a5 + a1 - one_half * a2 - two * a3 + one_half * a4


@jit.compiled()
def _at_columns(m: Any, s: int, t: int, vert: Any, k: Any) -> None:
    """vert[s, 0..3] = A^T (m[s, t], m[6 + s, t], ..., m[30 + s, t])."""
    half, two, four, eight, quarter, eighth = k[0], k[2], k[4], k[5], k[6], k[7]
    for q in range(m.shape[2]):
        a0, a1, a2 = m[s, t, q], m[6 + s, t, q], m[12 + s, t, q]
        a3, a4, a5 = m[18 + s, t, q], m[24 + s, t, q], m[30 + s, t, q]
        vert[s, 0, q] = a0 + a1 + a2 + a3 + a4
        vert[s, 1, q] = a1 - a2 + half * a3 - two * a4
        vert[s, 2, q] = a1 + a2 + quarter * a3 + four * a4
        vert[s, 3, q] = a1 - a2 + eighth * a3 - eight * a4 + a5


@jit.compiled()
def _at_rows(vert: Any, i: int, bias: Any, relu: bool, y: Any, j0: int, j1: int, j2: int,
             j3: int, k: Any) -> None:
    """Rows j0..j3 of y = A^T (vert[0..5, i]) + bias, through max(., 0) with `relu` (NaN
    stays NaN, as in np.maximum)."""
    half, two, four, eight, quarter, eighth = k[0], k[2], k[4], k[5], k[6], k[7]
    for q in range(vert.shape[2]):
        a0, a1, a2 = vert[0, i, q], vert[1, i, q], vert[2, i, q]
        a3, a4, a5 = vert[3, i, q], vert[4, i, q], vert[5, i, q]
        b = bias[q]
        z0 = a0 + a1 + a2 + a3 + a4 + b
        z1 = a1 - a2 + half * a3 - two * a4 + b
        z2 = a1 + a2 + quarter * a3 + four * a4 + b
        z3 = a1 - a2 + eighth * a3 - eight * a4 + a5 + b
        y[j0, q] = 0 if relu and z0 < 0 else z0
        y[j1, q] = 0 if relu and z1 < 0 else z1
        y[j2, q] = 0 if relu and z2 < 0 else z2
        y[j3, q] = 0 if relu and z3 < 0 else z3


@jit.compiled()
def _a_rows(dy: Any, i0: int, i1: int, i2: int, i3: int, horiz: Any, i: int, k: Any) -> None:
    """horiz[i, 0..5] = A (rows i0..i3 of dy): one output row of a tile, across it."""
    half, two, four, eight, quarter, eighth = k[0], k[2], k[4], k[5], k[6], k[7]
    for q in range(dy.shape[1]):
        a0, a1, a2, a3 = dy[i0, q], dy[i1, q], dy[i2, q], dy[i3, q]
        horiz[i, 0, q] = a0
        horiz[i, 1, q] = a0 + a1 + a2 + a3
        horiz[i, 2, q] = a0 - a1 + a2 - a3
        horiz[i, 3, q] = a0 + half * a1 + quarter * a2 + eighth * a3
        horiz[i, 4, q] = a0 - two * a1 + four * a2 - eight * a3
        horiz[i, 5, q] = a3


@jit.compiled()
def _a_columns(horiz: Any, s: int, dm: Any, t: int, k: Any) -> None:
    """dm[s, t], dm[6 + s, t], ..., dm[30 + s, t] = A (horiz[0..3, s])."""
    half, two, four, eight, quarter, eighth = k[0], k[2], k[4], k[5], k[6], k[7]
    for q in range(horiz.shape[2]):
        a0, a1, a2, a3 = horiz[0, s, q], horiz[1, s, q], horiz[2, s, q], horiz[3, s, q]
        dm[s, t, q] = a0
        dm[6 + s, t, q] = a0 + a1 + a2 + a3
        dm[12 + s, t, q] = a0 - a1 + a2 - a3
        dm[18 + s, t, q] = a0 + half * a1 + quarter * a2 + eighth * a3
        dm[24 + s, t, q] = a0 - two * a1 + four * a2 - eight * a3
        dm[30 + s, t, q] = a3


@jit.compiled()
def _b_columns(dv: Any, s: int, t: int, vert: Any, k: Any) -> None:
    """vert[s, 0..5] = B (dv[s, t], dv[6 + s, t], ..., dv[30 + s, t]): the adjoint of
    _bt_columns for column combination s."""
    half, one_half, two, two_half = k[0], k[1], k[2], k[3]
    for p in range(dv.shape[2]):
        a0, a1, a2 = dv[s, t, p], dv[6 + s, t, p], dv[12 + s, t, p]
        a3, a4, a5 = dv[18 + s, t, p], dv[24 + s, t, p], dv[30 + s, t, p]
        vert[s, 0, p] = a0
        vert[s, 1, p] = a2 - a1 + a5 + half * a4 - one_half * a0 - two * a3
        vert[s, 2, p] = half * a1 - two * a0 - two_half * a2 - a3 - a4 - one_half * a5
        vert[s, 3, p] = one_half * a0 + two_half * a1 + half * (a2 - a4) + two * (a3 - a5)
        vert[s, 4, p] = a0 + a1 + a2 + a3 + a4 + one_half * a5
        vert[s, 5, p] = a5


@jit.compiled()
def _b_rows_add(vert: Any, r: int, dx: Any, j0: int, j1: int, j2: int, j3: int, j4: int,
                j5: int, k: Any) -> None:
    """Rows j0..j5 of dx += B (vert[0..5, r]): input row r of a tile, across it."""
    half, one_half, two, two_half = k[0], k[1], k[2], k[3]
    for p in range(vert.shape[2]):
        a0, a1, a2 = vert[0, r, p], vert[1, r, p], vert[2, r, p]
        a3, a4, a5 = vert[3, r, p], vert[4, r, p], vert[5, r, p]
        dx[j0, p] += a0
        dx[j1, p] += a2 - a1 + a5 + half * a4 - one_half * a0 - two * a3
        dx[j2, p] += half * a1 - two * a0 - two_half * a2 - a3 - a4 - one_half * a5
        dx[j3, p] += one_half * a0 + two_half * a1 + half * (a2 - a4) + two * (a3 - a5)
        dx[j4, p] += a0 + a1 + a2 + a3 + a4 + one_half * a5
        dx[j5, p] += a5


@jit.compiled()
def _pixel(row: int, col: int, rows: int, cols: int, spare: int) -> int:
    """The row of pixel (row, col) in a (pixel, vector) array, or the spare row outside."""
    return row * cols + col if 0 <= row < rows and 0 <= col < cols else spare


@jit.compiled()
def _input_transform(xt: Any, y0: int, w: int, pt: int, pl: int, r0: int, r1: int, tw: int,
                     v: Any, t0: int) -> None:
    """v[:, t0 + t] (36 vectors) = B^T d B of tile t of rows r0..r1-1, from xt (pixel, P)
    holding input rows y0.. and, last, a row of zeros."""
    k = _constants(xt)
    spare = xt.shape[0] - 1
    rows = spare // w
    tmp = np.empty((6, 6, xt.shape[1]), xt.dtype)  # (column, row combination, P)
    for t in range((r1 - r0) * tw):
        top, left = 4 * (r0 + t // tw) - pt - y0, 4 * (t % tw) - pl
        for s in range(6):
            ix = left + s
            _bt_columns(xt, _pixel(top, ix, rows, w, spare), _pixel(top + 1, ix, rows, w, spare),
                        _pixel(top + 2, ix, rows, w, spare), _pixel(top + 3, ix, rows, w, spare),
                        _pixel(top + 4, ix, rows, w, spare), _pixel(top + 5, ix, rows, w, spare),
                        tmp, s, k)
        for a in range(6):
            _bt_rows(tmp, a, v, t0 + t, k)


@jit.compiled()
def _output_transform(m: Any, t0: int, r0: int, r1: int, tw: int, ho: int, wo: int,
                      bias: Any, relu: bool, yt: Any) -> None:
    """yt (pixel, Q), output rows 4*r0.., = A^T M A + bias of tiles t0.. of m (36, tiles, Q);
    yt's last row takes what falls past the output's edge."""
    k = _constants(m)
    spare = yt.shape[0] - 1
    rows = spare // wo
    vert = np.empty((6, 4, m.shape[2]), m.dtype)  # (column combination, output row, Q)
    for t in range((r1 - r0) * tw):
        top, left = 4 * (t // tw), 4 * (t % tw)
        for s in range(6):
            _at_columns(m, s, t0 + t, vert, k)
        for i in range(min(4, rows - top)):
            oy = top + i
            _at_rows(vert, i, bias, relu, yt, _pixel(oy, left, rows, wo, spare),
                     _pixel(oy, left + 1, rows, wo, spare), _pixel(oy, left + 2, rows, wo, spare),
                     _pixel(oy, left + 3, rows, wo, spare), k)


@jit.compiled()
def _output_adjoint(dyt: Any, r0: int, r1: int, tw: int, wo: int, dm: Any, t0: int) -> None:
    """dm[:, t0 + t] = A dY A^T of tile t of rows r0..r1-1, from dyt (pixel, Q) holding
    output rows 4*r0.. and, last, a row of zeros (what lies past the edge)."""
    k = _constants(dyt)
    spare = dyt.shape[0] - 1
    rows = spare // wo
    horiz = np.empty((4, 6, dyt.shape[1]), dyt.dtype)  # (output row, column combination, Q)
    for t in range((r1 - r0) * tw):
        top, left = 4 * (t // tw), 4 * (t % tw)
        for i in range(4):
            oy = top + i
            _a_rows(dyt, _pixel(oy, left, rows, wo, spare), _pixel(oy, left + 1, rows, wo, spare),
                    _pixel(oy, left + 2, rows, wo, spare), _pixel(oy, left + 3, rows, wo, spare),
                    horiz, i, k)
        for s in range(6):
            _a_columns(horiz, s, dm, t0 + t, k)


@jit.compiled()
def _input_adjoint(dv: Any, t0: int, r0: int, r1: int, tw: int, y0: int, w: int, pt: int,
                   pl: int, dxt: Any) -> None:
    """dxt (pixel, P), input rows y0.., += B dV B^T of tiles t0.. of dv (36, tiles, P),
    added over the overlapping tiles; dxt's last row takes what falls in the padding."""
    k = _constants(dv)
    spare = dxt.shape[0] - 1
    rows = spare // w
    vert = np.empty((6, 6, dv.shape[2]), dv.dtype)  # (column combination, input row, P)
    for t in range((r1 - r0) * tw):
        top, left = 4 * (r0 + t // tw) - pt - y0, 4 * (t % tw) - pl
        for s in range(6):
            _b_columns(dv, s, t0 + t, vert, k)
        for r in range(6):
            iy = top + r
            if 0 <= iy < rows:
                _b_rows_add(vert, r, dxt, _pixel(iy, left, rows, w, spare),
                            _pixel(iy, left + 1, rows, w, spare),
                            _pixel(iy, left + 2, rows, w, spare),
                            _pixel(iy, left + 3, rows, w, spare),
                            _pixel(iy, left + 4, rows, w, spare),
                            _pixel(iy, left + 5, rows, w, spare), k)


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
def _transpose(a: Any, b: Any) -> None:
    """b = a.T for C-contiguous 2D arrays, in blocks of rows over the workers."""
    rows = a.shape[0]
    step = max(64, -(-rows // 64))
    for i in prange(-(-rows // step)):
        blas.single_threaded()
        lo, hi = i * step, min(rows, i * step + step)
        blas.transpose(a[lo:hi], b[:, lo:hi])


@jit.compiled(parallel=True)
def _filter_transform(wt: Any, g: Any, u: Any) -> None:
    """u[6a + b, c] = sum over i, j of g[a, i] wt[c, 3i + j] g[b, j], each a vector over O."""
    o = wt.shape[2]
    for c in prange(wt.shape[0]):
        rows = np.zeros((3, 6, o), wt.dtype)  # (i, b): the filter's rows times G^T
        for i in range(3):
            for b in range(6):
                for j in range(3):
                    gb = g[b, j]
                    if gb != 0:
                        for e in range(o):
                            rows[i, b, e] += gb * wt[c, 3 * i + j, e]
        for a in range(6):
            for b in range(6):
                for e in range(o):
                    u[6 * a + b, c, e] = g[a, 0] * rows[0, b, e] + g[a, 1] * rows[1, b, e] \
                        + g[a, 2] * rows[2, b, e]


@jit.compiled(parallel=True)
def _filter_adjoint(du: Any, g: Any, dwt: Any) -> None:
    """dwt[c, 3i + j] = sum over a, b of g[a, i] du[6a + b, c] g[b, j], vectors over O."""
    o = du.shape[2]
    for c in prange(du.shape[1]):
        cols = np.zeros((6, 3, o), du.dtype)  # (a, j): dU's rows times G
        for a in range(6):
            for b in range(6):
                for j in range(3):
                    gb = g[b, j]
                    if gb != 0:
                        for e in range(o):
                            cols[a, j, e] += gb * du[6 * a + b, c, e]
        for i in range(3):
            for j in range(3):
                for e in range(o):
                    dwt[c, 3 * i + j, e] = 0
                for a in range(6):
                    ga = g[a, i]
                    if ga != 0:
                        for e in range(o):
                            dwt[c, 3 * i + j, e] += ga * cols[a, j, e]


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
        _input_transform(xt, y0, w, pt, pl, r0, r1, tw, v, 0)
        m = np.empty((36, tiles, nb * o), x2.dtype)
        for pos in range(36):
            blas.gemm(v[pos].reshape(tiles * nb, c), u[pos], m[pos].reshape(tiles * nb, o), 0.0)
        bias_row = np.empty(nb * o, x2.dtype)  # the bias of each (image, channel) column
        for j in range(nb):
            bias_row[j * o:(j + 1) * o] = bias
        yt = np.empty(((min(4 * r1, ho) - 4 * r0) * wo + 1, nb * o), x2.dtype)
        _output_transform(m, 0, r0, r1, tw, ho, wo, bias_row, relu, yt)
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
            _input_transform(xt, 0, w, pt, pl, 0, th, tw, v, 0)
            dm = np.empty((36, th * tw, (n1 - n0) * o), x2.dtype)
            _output_adjoint(_gather(dy2, n0, n1, o, 0, ho * wo), 0, th, tw, wo, dm, 0)
            for pos in range(36):
                blas.gemm(v[pos].reshape(rows, c).T, dm[pos].reshape(rows, o), parts[worker, pos],
                          1.0)
            if need_dx:
                for pos in range(36):  # dV = dM U^T, written over V
                    blas.gemm(dm[pos].reshape(rows, o), u[pos].T, v[pos].reshape(rows, c), 0.0)
                dxt = np.zeros_like(xt)
                _input_adjoint(v, 0, 0, th, tw, 0, w, pt, pl, dxt)
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
        _input_transform(xt, y0, w, pt, pl, r0, r1, tw, v, (n * th + r0) * tw)


@jit.compiled()
def _filter_at(u: Any, coef: Any, pos: int, out: Any) -> Any:
    """U[pos] (C, O): u's own slice when u is (36, C, O), else made from its (9, C, O) rows
    into `out`."""
    if u.shape[0] == 36:
        return u[pos]
    for c in range(u.shape[1]):
        for e in range(u.shape[2]):
            out[c, e] = 0
    for ij in range(9):
        k = coef[pos, ij]
        if k != 0:
            for c in range(u.shape[1]):
                for e in range(u.shape[2]):
                    out[c, e] += k * u[ij, c, e]
    return out


@jit.compiled(parallel=True)
def _filter_rows(w: Any, rows: Any) -> None:
    o, c = w.shape[:2]
    for ch in prange(c):
        for ij in range(9):
            for e in range(o):
                rows[ij, ch, e] = w[e, ch, ij]


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
            filt = _filter_at(u, coef, pos, np.empty((u.shape[1], u.shape[2]), u.dtype))
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
                blas.gemm(dm[pos], _filter_at(u, coef, pos, scratch).T, v[pos], 0.0)


@jit.compiled(parallel=True)
def _staged_output(m: Any, bias: Any, relu: bool, ho: int, wo: int, th: int, tw: int,
                   units: Any, y2: Any) -> None:
    """y2 (N*O, Ho*Wo) from m (36, N*th*tw, O), unit by unit."""
    o = m.shape[2]
    for i in prange(units.shape[0]):
        blas.single_threaded()
        n, r0, r1 = units[i, 0], units[i, 2], units[i, 3]
        yt = np.empty(((min(4 * r1, ho) - 4 * r0) * wo + 1, o), m.dtype)
        _output_transform(m, (n * th + r0) * tw, r0, r1, tw, ho, wo, bias, relu, yt)
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
        _input_transform(_gather(x2, n, n + 1, c, y0 * w, max(y1, y0) * w), y0, w, pt, pl,
                         r0, r1, tw, v, t0)
        dyt = _gather(dy2, n, n + 1, o, 4 * r0 * wo, min(4 * r1, ho) * wo)
        _output_adjoint(dyt, r0, r1, tw, wo, dm, t0)


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
        _input_adjoint(dv, (n * th + r0) * tw, r0, r1, tw, y0, w, pt, pl, dxt)
        band = np.empty((c, (y1 - y0) * w), dv.dtype)
        blas.transpose(dxt[:-1], band)
        dx2[n * c:(n + 1) * c, y0 * w:y1 * w] += band
