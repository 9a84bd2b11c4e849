"""The compiled transforms of Winograd F(4x4, 3x3) on the CPU (runtime/kernels/winograd.py
holds the algorithm, winograd_cpu.py the schedules that call these).

Tiles: B^T d B of the input, A^T M A of the products, and their adjoints, over (pixel, vector)
rows: every loop runs along one pixel's vector of (image x channel) values, long and
contiguous. They index whole arrays instead of taking views, which in compiled code cost two
atomic reference counts each (6x slower on 64-wide rows); rows of pixels outside the image are
a spare last row: zeros to read, scratch to write.

Filters: U = G w G^T, its adjoint, and the (9, C, O) form of a large filter, whose U[pos] is
made as its GEMM runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import prange

from cnnc_runtime import blas, jit


def filter_rows(w: Any) -> Any:
    """w (O, C, 3, 3) as (9, C, O): the form of a large filter, whose U[pos] is made from
    these nine (C, O) slices as its GEMM runs (36 of them would take 4x the weight's memory)."""
    o, c = w.shape[:2]
    rows = np.empty((9, c, o), w.dtype)
    _filter_rows(np.ascontiguousarray(w).reshape(o, c, 9), rows)
    return rows


def coefficients(dtype: Any) -> Any:
    """(36, 9): U[6a + b] = sum over i, j of coef[6a + b, 3i + j] * w[:, :, i, j]^T."""
    from cnnc_runtime.kernels.winograd import G
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


@jit.compiled()
def _constants(like: Any) -> Any:
    """The transforms' coefficients in the arrays' own dtype (a literal would promote float32
    arithmetic to float64): 1/2, 3/2, 2, 5/2, 4, 8, 1/4, 1/8."""
    k = np.empty(8, like.dtype)
    k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7] = 0.5, 1.5, 2, 2.5, 4, 8, 0.25, 0.125
    return k


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
def _filter_rows(w: Any, rows: Any) -> None:
    o, c = w.shape[:2]
    for ch in prange(c):
        for ij in range(9):
            for e in range(o):
                rows[ij, ch, e] = w[e, ch, ij]


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
