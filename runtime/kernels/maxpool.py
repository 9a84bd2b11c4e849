"""Maxpool kernels. Shape rule: cnnc/ops/maxpool.py.

On the CPU a 2D pool is one compiled loop over Numba's threads per pass, one (image, channel)
plane per work item; the NumPy bodies below are their references (runtime/jit.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import prange

from cnnc_runtime import jit
from cnnc_runtime.kernels import pooling
from cnnc_runtime.kernels.conv_cpu import inside


def _geometry(attrs: dict, x_shape: tuple[int, ...]) -> tuple:
    kernel, stride, padding, out = attrs["kernel"], attrs["stride"], attrs["padding"], attrs["out"]
    dilation = attrs.get("dilation", (1,) * len(kernel))
    sizes = pooling.padded_sizes(x_shape[2:], kernel, stride, padding, dilation, out)
    return kernel, stride, padding, dilation, out, sizes


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool,
            outputs: tuple[str, ...] = ()) -> tuple:
    """y (N, C, *out) = maximum over each window of x (N, C, *spatial), padding at -inf; with
    `outputs=("indices",)` (a step reads `<id>.indices`) the output is (y, indices), indices
    (N, C, *out) int64 the flat position of each maximum within its (n, c) plane of x, as
    PyTorch's return_indices. Nets that do not read them pay nothing.

    saved (training only): the winning kernel offset of every output, (N, C, *out) int8 for up
    to 127 offsets, and x's shape.
    """
    (x,) = inputs
    kernel, stride, padding, dilation, out, sizes = _geometry(attrs, x.shape)
    starts = pooling.offsets(kernel, dilation)
    keep = training or "indices" in outputs  # the winning offsets are wanted
    if _compiled(xp, x):
        n, c = x.shape[:2]
        y = np.empty((n, c, *out), x.dtype)
        arg = np.empty(y.shape if keep else (0, 0, 0, 0),
                       np.int8 if len(starts) < 128 else np.int32)
        if _halving(kernel, stride, padding, dilation, out, x.shape[2:]):
            _forward_2x2(np.ascontiguousarray(x), keep, y, arg)
        else:
            _forward(np.ascontiguousarray(x), *kernel, *stride, *dilation, padding[0][0],
                     padding[1][0], keep, y, arg)
        return _with_indices(xp, y, arg, attrs, x.shape, outputs), \
            ((arg, x.shape) if training else None)
    xs = pooling.split_last(xp, x, sizes, padding, stride[-1], -xp.inf)
    y = xs[pooling.window(starts[0], stride, out)].copy()  # (N, C, *out)
    if not keep:
        for start in starts[1:]:
            xp.maximum(y, xs[pooling.window(start, stride, out)], out=y)
        return y, None
    arg = xp.zeros(y.shape, dtype=xp.int8 if len(starts) < 128 else xp.int32)
    better = xp.empty(y.shape, dtype=bool)
    won = xp.empty(y.shape, dtype=arg.dtype)
    v = xp.empty(y.shape, dtype=y.dtype)
    for k, start in enumerate(starts[1:], 1):
        # Read the strided window once into a contiguous buffer: the two passes over it
        # below then run on contiguous data (20% faster forward on a 3x3/2 pool).
        v[...] = xs[pooling.window(start, stride, out)]
        # Strictly greater: on ties the first offset in window order keeps it, like PyTorch.
        xp.greater(v, y, out=better)
        # arg < k so far, so max(arg, k*better) sets k exactly where v won (a masked copy
        # is 20x slower in NumPy).
        xp.multiply(better, arg.dtype.type(k), out=won)
        xp.maximum(arg, won, out=arg)
        xp.maximum(y, v, out=y)
    return _with_indices(xp, y, arg, attrs, x.shape, outputs), \
        ((arg, x.shape) if training else None)


def _with_indices(xp: Any, y: Any, arg: Any, attrs: dict, x_shape: tuple[int, ...],
                  outputs: tuple[str, ...]) -> Any:
    """y, or (y, indices) when the step writes `indices`: each output's winning kernel offset
    `arg` (N, C, *out) turned into the flat index of its input cell within the (n, c) plane."""
    if "indices" not in outputs:
        return y
    kernel, stride, padding, dilation, out, _ = _geometry(attrs, x_shape)
    rest = arg.astype(xp.int64)  # offsets are row-major over the kernel, the last axis fastest
    indices = xp.zeros(arg.shape, dtype=xp.int64)
    n = len(kernel)
    for axis in reversed(range(n)):
        tap = rest % kernel[axis]
        rest //= kernel[axis]
        first = xp.arange(out[axis], dtype=xp.int64) * stride[axis] - padding[axis][0]
        coord = first.reshape((-1,) + (1,) * (n - 1 - axis)) + tap * dilation[axis]
        indices += coord * math.prod(x_shape[3 + axis:])
    return y, indices


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): each dy goes to the one input cell that won its window."""
    arg, x_shape = saved
    kernel, stride, padding, dilation, out, sizes = _geometry(attrs, x_shape)
    if _compiled(xp, dy) and len(x_shape) == 4:
        dx = np.empty(x_shape, dy.dtype)
        if _halving(kernel, stride, padding, dilation, out, x_shape[2:]):
            _backward_2x2(np.ascontiguousarray(dy), arg, dx)
        else:
            _backward(np.ascontiguousarray(dy), arg, *kernel, *stride, *dilation,
                      padding[0][0], padding[1][0], dx)
        return [dx], {}
    dxs = xp.zeros(x_shape[:2] + sizes[:-1] + (stride[-1], -(-sizes[-1] // stride[-1])),
                   dtype=dy.dtype)  # (N, C, *sizes[:-1], s, ceil(sizes[-1] / s)): split_last's
    starts = pooling.offsets(kernel, dilation)
    hit = xp.empty(arg.shape, dtype=bool)
    g = xp.empty(dy.shape, dtype=dy.dtype)
    for k, (start, first) in enumerate(zip(starts, pooling.first_in_lattice(starts, stride))):
        xp.equal(arg, k, out=hit)
        w = pooling.window(start, stride, out)
        if first:
            xp.multiply(dy, hit, out=dxs[w])
        else:
            xp.multiply(dy, hit, out=g)
            dxs[w] += g
    return [pooling.merge_last(xp, dxs, x_shape, padding, stride[-1])], {}


U = np.uint64  # indices known to be in range: no wraparound test (see conv_cpu.U)
PLANES = 16  # planes per work item, which allocates its buffers once


def _compiled(xp: Any, a: Any) -> bool:
    return jit.enabled(xp) and a.ndim == 4 and a.dtype.kind == "f"


def _halving(kernel: tuple, stride: tuple, padding: tuple, dilation: tuple, out: tuple,
             sizes: tuple) -> bool:
    """The 2x2 pool of stride 2 without padding or overhang (LeNet's, the U-Net's): its own
    loop, the four offsets written out (loops over sizes known only at run time are 5x
    slower)."""
    return (tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and tuple(dilation) == (1, 1)
            and not any(b or a for b, a in padding)
            and all(2 * o <= s for o, s in zip(out, sizes)))


@jit.compiled(parallel=True)
def _forward_2x2(x: Any, training: bool, y: Any, arg: Any) -> None:
    """As _forward for a 2x2 pool of stride 2: offsets in order (0,0), (0,1), (1,0), (1,1)."""
    n, c = x.shape[:2]
    ho, wo = y.shape[2], y.shape[3]
    for plane in prange(n * c):
        i, ch = plane // c, plane % c
        for oy in range(ho):
            for ox in range(wo):
                best = x[i, ch, 2 * oy, U(2 * ox)]
                won = 0
                for k in range(1, 4):
                    v = x[i, ch, 2 * oy + k // 2, U(2 * ox + k % 2)]
                    if v > best:
                        best, won = v, k
                    elif np.isnan(v):
                        best = v
                y[i, ch, oy, ox] = best
                if training:
                    arg[i, ch, oy, ox] = won


@jit.compiled(parallel=True)
def _backward_2x2(dy: Any, arg: Any, dx: Any) -> None:
    """Each window's four cells: dy at its winner, zero elsewhere (windows do not overlap; a
    row or column left out by an odd size gets zeros)."""
    n, c, h, w = dx.shape
    ho, wo = dy.shape[2], dy.shape[3]
    for plane in prange(n * c):
        i, ch = plane // c, plane % c
        for r in range(2 * ho, h):
            for q in range(w):
                dx[i, ch, r, q] = 0
        for oy in range(ho):
            for q in range(2 * wo, w):
                dx[i, ch, 2 * oy, q] = 0
                dx[i, ch, 2 * oy + 1, q] = 0
            for ox in range(wo):
                d, k = dy[i, ch, oy, ox], arg[i, ch, oy, ox]
                z = d - d
                dx[i, ch, 2 * oy, U(2 * ox)] = d if k == 0 else z
                dx[i, ch, 2 * oy, U(2 * ox + 1)] = d if k == 1 else z
                dx[i, ch, 2 * oy + 1, U(2 * ox)] = d if k == 2 else z
                dx[i, ch, 2 * oy + 1, U(2 * ox + 1)] = d if k == 3 else z


# The compiled passes split each padded plane by stride phase, as pooling.split_last does:
# phase (py, px) holds padded cells (r * sh + py, q * sw + px) as (rows, Q), flat. Output
# f = oy * Q + ox then reads offset (ky, kx) at one fixed shift of one phase, so each offset
# is one long contiguous loop over the plane's outputs; short rows with a bounds test per
# element make it 5x slower than NumPy. Columns ox >= Wo of each output row are scratch.

@jit.compiled()
def _layout(h: int, w: int, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, pt: int,
            pl: int, ho: int, wo: int) -> tuple[int, int]:
    """(rows, Q) of each phase: room for every window and the input, and a spare row."""
    hp = max(h + pt, (ho - 1) * sh + (kh - 1) * dh + 1)
    wp = max(w + pl, (wo - 1) * sw + (kw - 1) * dw + 1)
    return -(-hp // sh) + 1, max(-(-wp // sw), wo + (kw - 1) * dw // sw)


@jit.compiled()
def _shift(ky: int, kx: int, sh: int, sw: int, dh: int, dw: int, rows: int, q: int) -> int:
    """Where offset (ky, kx) reads output 0: its phase's start plus its shift in it."""
    a, b = ky * dh, kx * dw
    return ((a % sh) * sw + b % sw) * rows * q + (a // sh) * q + b // sw


@jit.compiled()
def _phases(plane: Any, i: int, ch: int, sh: int, sw: int, pt: int, pl: int, rows: int, q: int,
            buf: Any, split: bool) -> None:
    """Between plane (i, ch) of `plane` (N, C, H, W) and its phases in buf (sh * sw * rows *
    q): into buf when `split` (the rest of buf left as it is), back out of it otherwise."""
    h, w = plane.shape[2], plane.shape[3]
    for py in range(sh):
        for r2 in range(rows):
            r = r2 * sh + py - pt
            if 0 <= r < h:
                for px in range(sw):
                    lo, hi = inside(pl - px, sw, w, q)
                    base = ((py * sw + px) * rows + r2) * q
                    for q2 in range(lo, hi):
                        if split:
                            buf[U(base + q2)] = plane[i, ch, r, U(q2 * sw + px - pl)]
                        else:
                            plane[i, ch, r, U(q2 * sw + px - pl)] = buf[U(base + q2)]


@jit.compiled(parallel=True)
def _forward(x: Any, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, pt: int, pl: int,
             training: bool, y: Any, arg: Any) -> None:
    """As the reference: a strictly greater value wins (ties keep the first offset in window
    order), padding never wins, NaN propagates into y."""
    n, c, h, w = x.shape
    ho, wo = y.shape[2], y.shape[3]
    rows, q = _layout(h, w, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo)
    planes = n * c
    for item in prange(-(-planes // PLANES)):
        buf = np.empty(sh * sw * rows * q, x.dtype)
        best = np.empty(ho * q, x.dtype)
        won = np.empty(ho * q, np.int32)
        low = x.dtype.type(-np.inf)
        for plane in range(item * PLANES, min(planes, item * PLANES + PLANES)):
            i, ch = plane // c, plane % c
            for e in range(buf.shape[0]):
                buf[e] = low
            _phases(x, i, ch, sh, sw, pt, pl, rows, q, buf, True)
            for f in range(ho * q):
                best[f], won[f] = low, 0
            for ky in range(kh):
                for kx in range(kw):
                    k, base = ky * kw + kx, _shift(ky, kx, sh, sw, dh, dw, rows, q)
                    for f in range(ho * q):
                        v, b = buf[U(base + f)], best[f]
                        gt = v > b
                        best[f] = v if gt or np.isnan(v) else b  # np.maximum's NaN
                        won[f] = k if gt else won[f]
            for oy in range(ho):
                for ox in range(wo):
                    y[i, ch, oy, ox] = best[U(oy * q + ox)]
            if training:
                for oy in range(ho):
                    for ox in range(wo):
                        arg[i, ch, oy, ox] = won[U(oy * q + ox)]


@jit.compiled(parallel=True)
def _backward(dy: Any, arg: Any, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int,
              pt: int, pl: int, dx: Any) -> None:
    """dx = each dy added onto its window's winner, offset by offset in window order as the
    reference adds them, through the same phases."""
    n, c, h, w = dx.shape
    ho, wo = dy.shape[2], dy.shape[3]
    rows, q = _layout(h, w, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo)
    planes = n * c
    for item in prange(-(-planes // PLANES)):
        buf = np.empty(sh * sw * rows * q, dx.dtype)
        g = np.empty(ho * q, dx.dtype)
        won = np.empty(ho * q, np.int32)
        for plane in range(item * PLANES, min(planes, item * PLANES + PLANES)):
            i, ch = plane // c, plane % c
            for e in range(buf.shape[0]):
                buf[e] = 0
            for f in range(ho * q):
                g[f], won[f] = 0, -1  # scratch columns win nothing
            for oy in range(ho):
                for ox in range(wo):
                    g[U(oy * q + ox)] = dy[i, ch, oy, ox]
                    won[U(oy * q + ox)] = arg[i, ch, oy, ox]
            for ky in range(kh):
                for kx in range(kw):
                    k, base = ky * kw + kx, _shift(ky, kx, sh, sw, dh, dw, rows, q)
                    for f in range(ho * q):
                        d = g[f]
                        buf[U(base + f)] += d if won[f] == k else d - d
            _phases(dx, i, ch, sh, sw, pt, pl, rows, q, buf, False)
