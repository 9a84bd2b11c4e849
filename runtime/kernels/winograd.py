"""Winograd F(4x4, 3x3): stride-1 3x3 convolutions in a quarter of the multiplications.
Used by runtime/kernels/conv.py where the plan says `algorithm: winograd` (cnnc/ops/conv_algorithm.py).

Every 4x4 block of output comes from the 6x6 input tile around it as

    Y = A^T [ U ⊙ (B^T d B) ] A,    U = G w G^T        (Lavin and Gray, 2016)

summed over input channels: 36 products per tile and channel pair where a direct convolution
takes 144. Per tile position the channel sums are GEMMs: M[pos] = V[pos] @ U[pos] with V the
transformed input (tiles, C) and U the transformed filter (C, O). Backward is the transpose of
each stage: dM = A dY A^T, dU = V^T dM, dV = dM U^T, dx = B dV B^T added back over the
overlapping tiles, dw = G^T dU G. In float32 the result is within about 1e-5 of the largest
output of an exact convolution, against about 1e-6 for im2col: the output transform subtracts
products that are larger than the result, so their rounding shows. In float64 it is exact to
about 1e-14.

The NumPy reference below is the definition (gradient checks run on it); on the CPU its
compiled twin runs instead: the schedules in winograd_cpu.py, the transforms in
winograd_transforms.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnc_runtime import blas, jit
from cnnc_runtime.kernels import winograd_cpu, winograd_transforms

# Toom-Cook at the points 0, 1, -1, 1/2, -2 and infinity (Barabasz et al., "Error analysis and
# improving the accuracy of Winograd convolution", 2020): in float32 a 2.5x smaller error than
# Lavin and Gray's 0, +-1, +-2 (measured: 2.2e-6 against 5.7e-6 of the largest output over 64
# channels). B^T and A^T hold dyadic fractions only, exact in binary; G rounds once.
BT = np.array([[1, -3 / 2, -2, 3 / 2, 1, 0], [0, -1, 1 / 2, 5 / 2, 1, 0],
               [0, 1, -5 / 2, 1 / 2, 1, 0], [0, -2, -1, 2, 1, 0], [0, 1 / 2, -1, -1 / 2, 1, 0],
               [0, 1, -3 / 2, -2, 3 / 2, 1]], np.float64)
G = np.array([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [-1 / 3, 1 / 3, -1 / 3],
              [-16 / 15, -8 / 15, -4 / 15], [1 / 15, -2 / 15, 4 / 15], [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 1 / 2, -2, 0], [0, 1, 1, 1 / 4, 4, 0],
               [0, 1, -1, 1 / 8, -8, 1]], np.float64)

Pads = tuple[tuple[int, int], tuple[int, int]]


def tiles(ho: int, wo: int) -> tuple[int, int]:
    """Tile rows and columns that cover an ho x wo output."""
    return -(-ho // 4), -(-wo // 4)


def filter_transform(xp: Any, w: Any) -> Any:
    """The filters of w (O, C, 3, 3) in the form the convolution computes with: U (36, C, O)
    = G w G^T per channel pair; or, for a large filter on the CPU (C x O from
    winograd_cpu.STAGED_FILTER), w's nine (C, O) slices, (9, C, O), from which each U[pos] is
    made as its GEMM runs (36 of them would hold 4x the weight)."""
    o, c = w.shape[:2]
    g = xp.asarray(G, dtype=w.dtype)
    if blas.AVAILABLE and jit.enabled(xp):
        if c * o >= winograd_cpu.STAGED_FILTER:
            return winograd_transforms.filter_rows(w)
        return winograd_transforms.filter_transform(w, g)
    # Two flat GEMMs: a stack of O x C tiny matrix products is slow.
    wg = xp.matmul(w.reshape(o * c * 3, 3), g.T)  # (O*C*3, 6): rows (o, c, i), columns b
    u = xp.matmul(g, wg.reshape(o * c, 3, 6).transpose(1, 0, 2).reshape(3, -1))  # (6, O*C*6)
    return xp.ascontiguousarray(u.reshape(6, o, c, 6).transpose(0, 3, 2, 1)).reshape(36, c, o)


def filter_transform_adjoint(xp: Any, du: Any) -> Any:
    """dw (O, C, 3, 3) from the gradient of the filters in either form: G^T dU G of dU (36, C,
    O), or the nine (C, O) slices (9, C, O) put back in place."""
    c, o = du.shape[1:]
    if du.shape[0] == 9:
        return xp.ascontiguousarray(du.transpose(2, 1, 0)).reshape(o, c, 3, 3)
    g = xp.asarray(G, dtype=du.dtype)
    if blas.AVAILABLE and jit.enabled(xp):
        return winograd_transforms.filter_transform_adjoint(du, g)
    t = xp.matmul(g.T, du.reshape(6, -1))  # (3, 6*C*O): rows i, columns (b, c, o)
    t = t.reshape(3, 6, c * o).transpose(0, 2, 1).reshape(-1, 6)  # rows (i, c, o)
    dw = xp.matmul(t, g).reshape(3, c, o, 3)  # (i, c, o, j)
    return xp.ascontiguousarray(dw.transpose(2, 1, 0, 3))


def forward(xp: Any, x: Any, u: Any, bias: Any, pads: Pads, relu: bool) -> Any:
    """y (N, O, Ho, Wo) of x (N, C, H, W) with transformed filters u (36, C, O), plus bias (O,)
    when given, through max(., 0) with `relu`."""
    if blas.AVAILABLE and jit.enabled(xp):
        return winograd_cpu.forward(x, u, bias, pads, relu)
    return forward_reference(xp, x, _transformed(xp, u), bias, pads, relu)


def backward(xp: Any, dy: Any, x: Any, u: Any, pads: Pads, need_dx: bool) -> tuple[Any, Any]:
    """(dx (N, C, H, W) or None, dU (36, C, O)) from dy (N, O, Ho, Wo)."""
    if blas.AVAILABLE and jit.enabled(xp):
        return winograd_cpu.backward(dy, x, u, pads, need_dx)
    if u.shape[0] == 9:  # the gradient of the nine slices: dU onto them
        dx, du = backward_reference(xp, dy, x, _transformed(xp, u), pads, need_dx)
        return dx, _onto_rows(xp, du)
    return backward_reference(xp, dy, x, u, pads, need_dx)


def _coefficients(xp: Any, dtype: Any) -> Any:
    """(36, 9): U[6a + b] = sum over i, j of G[a, i] G[b, j] w[:, :, i, j]^T."""
    return xp.asarray(np.einsum("ai,bj->abij", G, G).reshape(36, 9), dtype=dtype)


def _transformed(xp: Any, u: Any) -> Any:
    """U (36, C, O) of filters in either form."""
    if u.shape[0] == 36:
        return u
    c, o = u.shape[1:]
    return xp.matmul(_coefficients(xp, u.dtype), u.reshape(9, -1)).reshape(36, c, o)


def _onto_rows(xp: Any, du: Any) -> Any:
    """The gradient of the nine slices (9, C, O) from that of U (36, C, O)."""
    c, o = du.shape[1:]
    return xp.matmul(_coefficients(xp, du.dtype).T, du.reshape(36, -1)).reshape(9, c, o)


# NumPy reference -----------------------------------------------------------------------------

def _padded_tiles(xp: Any, x: Any, pads: Pads, th: int, tw: int) -> Any:
    """The 6x6 input tiles (N, C, th, tw, 6, 6), zero beyond x, as a strided view."""
    n, c, h, w = x.shape
    (pt, _), (pl, _) = pads
    xpad = xp.zeros((n, c, 4 * th + 2, 4 * tw + 2), x.dtype)
    xpad[:, :, pt:pt + h, pl:pl + w] = x
    s = xpad.strides
    return xp.lib.stride_tricks.as_strided(
        xpad, (n, c, th, tw, 6, 6), (s[0], s[1], 4 * s[2], 4 * s[3], s[2], s[3]))


def _input_transform_reference(xp: Any, x: Any, pads: Pads, th: int, tw: int) -> Any:
    """V (36, N*th*tw, C) = B^T d B of every tile."""
    bt = xp.asarray(BT, dtype=x.dtype)
    v = xp.matmul(xp.matmul(bt, _padded_tiles(xp, x, pads, th, tw)), bt.T)  # (N,C,th,tw,6,6)
    return xp.ascontiguousarray(v.transpose(4, 5, 0, 2, 3, 1)).reshape(36, -1, x.shape[1])


def forward_reference(xp: Any, x: Any, u: Any, bias: Any, pads: Pads, relu: bool) -> Any:
    n, _, h, w = x.shape
    o = u.shape[2]
    ho, wo = h + sum(pads[0]) - 2, w + sum(pads[1]) - 2
    th, tw = tiles(ho, wo)
    m = xp.matmul(_input_transform_reference(xp, x, pads, th, tw), u)  # (36, N*th*tw, O)
    m = m.reshape(6, 6, n, th, tw, o).transpose(2, 5, 3, 4, 0, 1)  # (N, O, th, tw, 6, 6)
    at = xp.asarray(AT, dtype=x.dtype)
    blocks = xp.matmul(xp.matmul(at, m), at.T)  # (N, O, th, tw, 4, 4)
    y = blocks.transpose(0, 1, 2, 4, 3, 5).reshape(n, o, 4 * th, 4 * tw)[:, :, :ho, :wo]
    y = xp.ascontiguousarray(y)
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    if relu:
        xp.maximum(y, 0, out=y)
    return y


def backward_reference(xp: Any, dy: Any, x: Any, u: Any, pads: Pads,
                       need_dx: bool) -> tuple[Any, Any]:
    n, c, h, w = x.shape
    o, ho, wo = dy.shape[1:]
    th, tw = tiles(ho, wo)
    at = xp.asarray(AT, dtype=dy.dtype)
    dyp = xp.zeros((n, o, 4 * th, 4 * tw), dy.dtype)
    dyp[:, :, :ho, :wo] = dy
    dblocks = dyp.reshape(n, o, th, 4, tw, 4).transpose(0, 1, 2, 4, 3, 5)  # (N, O, th, tw, 4, 4)
    dm = xp.matmul(xp.matmul(at.T, dblocks), at)  # (N, O, th, tw, 6, 6)
    dm = xp.ascontiguousarray(dm.transpose(4, 5, 0, 2, 3, 1)).reshape(36, -1, o)
    v = _input_transform_reference(xp, x, pads, th, tw)  # (36, R, C)
    du = xp.matmul(v.transpose(0, 2, 1), dm)  # (36, C, O)
    if not need_dx:
        return None, du
    dv = xp.matmul(dm, u.transpose(0, 2, 1))  # (36, R, C)
    dv = dv.reshape(6, 6, n, th, tw, c).transpose(2, 5, 3, 4, 0, 1)  # (N, C, th, tw, 6, 6)
    bt = xp.asarray(BT, dtype=dy.dtype)
    dtiles = xp.matmul(xp.matmul(bt.T, dv), bt)
    dxpad = xp.zeros((n, c, 4 * th + 2, 4 * tw + 2), dy.dtype)
    for i in range(6):  # tiles overlap by two rows and columns: add each offset in turn
        for j in range(6):
            dxpad[:, :, i:i + 4 * th:4, j:j + 4 * tw:4] += dtiles[..., i, j]
    (pt, _), (pl, _) = pads
    return xp.ascontiguousarray(dxpad[:, :, pt:pt + h, pl:pl + w]), du
