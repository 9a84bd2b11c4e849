"""Conv kernels. Shape rule: cnnc/ops/conv.py."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from cnnc_runtime import blas
from cnnc_runtime.device import IM2COL_BYTES, device_name
from cnnc_runtime.kernels import conv_cpu, winograd
from cnnc_runtime.kernels.pad import pad_adjoint, pad_forward

Ints = tuple[int, ...]
Pads = tuple[tuple[int, int], ...]


# A stride-1 conv runs its GEMMs on every position of the padded input (the shift layout, see
# im2col) when the extra positions cost at most this many output channels' worth of GEMM per
# real position: about what its contiguous copies save over strided ones (measured, 2 cores).
GRID_WASTE = 32

SKIPS_DX = True  # backward leaves dx out when the executor says nobody reads it


class Geometry(NamedTuple):
    """The windows of one convolution, per spatial axis, and the column layout of its im2col
    matrix: `grid` is the padded input Sp in the shift layout (see im2col), otherwise `out`."""

    kernel: Ints
    stride: Ints
    dilation: Ints
    pads: Pads
    padded: Ints
    out: Ints
    grid: Ints


def geometry(sizes: Ints, kernel: Ints, stride: Ints, dilation: Ints, pads: Pads,
             out: Ints | None = None, width: int = 1, plain: bool = False) -> Geometry:
    """Geometry for spatial sizes S; out defaults to PyTorch's floor rule (cnnc/ops/base.py).
    width: the GEMM's output channels, which the shift layout's extra work scales with;
    `plain` rules the shift layout out (compiled copies gain nothing from it)."""
    padded = tuple(s + b + a for s, (b, a) in zip(sizes, pads))
    if out is None:
        out = tuple((p - d * (k - 1) - 1) // s + 1
                    for p, k, s, d in zip(padded, kernel, stride, dilation))
    waste = (math.prod(padded) / math.prod(out) - 1) * width
    shift = not plain and all(s == 1 for s in stride) and waste <= GRID_WASTE
    return Geometry(kernel, stride, dilation, pads, padded, out, padded if shift else out)


def _steps(geo: Geometry) -> list[int]:
    """Flat strides of the padded input's spatial axes."""
    return [math.prod(geo.padded[i + 1:]) for i in range(len(geo.padded))]


def _windows(geo: Geometry) -> Iterator[tuple[tuple, tuple]]:
    """(input index, cols index) per kernel offset, row-major as in the weight.

    Shift layout (grid != out): input (C, N*prod(Sp)) and cols (C, K, N*prod(Sp)) flat; an
    offset is one contiguous run per channel. Strided layout: input (C, N, *Sp), cols
    (C, K, N, *out), strided slices.
    """
    steps = _steps(geo)
    offsets = itertools.product(*(range(k) for k in geo.kernel))
    for i, offset in enumerate(offsets):
        if geo.grid != geo.out:
            off = sum(j * d * st for j, d, st in zip(offset, geo.dilation, steps))
            yield (slice(None), slice(off, None)), (slice(None), i, slice(0, -off or None))
        else:
            yield (slice(None), slice(None), *(slice(j * d, j * d + s * (m - 1) + 1, s) for
                   j, d, s, m in zip(offset, geo.dilation, geo.stride, geo.out))), (slice(None), i)


def im2col(xp: Any, x: Any, geo: Geometry, mode: str, groups: int) -> Any:
    """Unfold x (N, C, *S) into cols (G, C/G*prod(K), N*prod(grid)).

    Row (c, k) of group g holds channel g*C/G + c seen through kernel offset k at every grid
    position: W (G, O/G, C/G*prod(K)) @ cols is the whole convolution in one GEMM (from_grid
    crops it). Channel-major, so the copies write whole runs. In the shift layout the grid
    is every position of the padded input: a window is then a flat shift of it, and its copy
    one contiguous run per channel (long runs: numpy buffers short rows, 3x slower).
    """
    n, c = x.shape[:2]
    if geo.grid == geo.out and conv_cpu.applies(xp, x.ndim, x.dtype, mode):  # compiled
        return conv_cpu.im2col(x, geo).reshape(groups, -1, n * math.prod(geo.out))
    xt = x.swapaxes(0, 1)  # (C, N, *S) view
    if any(b or a for b, a in geo.pads):
        xt = pad_forward(xp, xt, geo.pads, mode)  # (C, N, *Sp)
    kk, size = math.prod(geo.kernel), n * math.prod(geo.grid)
    cols = xp.empty((c, kk, size), x.dtype)  # (C, prod(K), N*prod(grid))
    if geo.grid != geo.out:
        xv, cv = xt.reshape(c, -1), cols  # (C, N*prod(Sp)), (C, prod(K), N*prod(Sp))
        # Positions past the last output read beyond the input: keep them finite for dW.
        cols[:, :, size - sum((k - 1) * d * st for k, d, st in
                              zip(geo.kernel, geo.dilation, _steps(geo))):] = 0
    else:
        xv, cv = xt, cols.reshape(c, kk, n, *geo.out)  # (C, N, *Sp), (C, prod(K), N, *out)
    for src, dst in _windows(geo):
        cv[dst] = xv[src]
    return cols.reshape(groups, c // groups * kk, size)


def col2im(xp: Any, cols: Any, n: int, geo: Geometry, mode: str, out: Any = None) -> Any:
    """The adjoint of im2col: cols (G, C/G*prod(K), N*prod(grid)) -> dx (N, C, *S), adding
    every window's column back onto the input cells it read (contiguous result, written into
    `out` when given). Columns at grid positions that are not outputs must be zero."""
    kk = math.prod(geo.kernel)
    c = cols.shape[0] * cols.shape[1] // kk
    if geo.grid == geo.out and out is not None and out.flags.c_contiguous and conv_cpu.applies(
            xp, out.ndim, cols.dtype, mode):  # compiled
        conv_cpu.col2im(cols.reshape(c * kk, -1), geo, out)
        return out
    dxt = xp.zeros((c, n, *geo.padded), cols.dtype)  # (C, N, *Sp)
    if geo.grid != geo.out:
        dv, cv = dxt.reshape(c, -1), cols.reshape(c, kk, -1)
    else:
        dv, cv = dxt, cols.reshape(c, kk, n, *geo.out)
    # Windows that never overlap (stride >= extent) can be copied, not added: 3x faster.
    tiled = all(d * (k - 1) < s for k, d, s in zip(geo.kernel, geo.dilation, geo.stride))
    for src, dst in _windows(geo):
        if tiled:
            dv[src] = cv[dst]
        else:
            dv[src] += cv[dst]
    dxt = pad_adjoint(xp, dxt, geo.pads, mode, own=True)  # (C, N, *S) view
    if out is None:
        return xp.ascontiguousarray(dxt.swapaxes(0, 1))  # (N, C, *S)
    out[...] = dxt.swapaxes(0, 1)
    return out


def to_grid(xp: Any, a: Any, geo: Geometry) -> Any:
    """a (N, C, *out) -> (C, N*prod(grid)), zero at grid positions that are not outputs."""
    n, c = a.shape[:2]
    if geo.grid == geo.out and conv_cpu.applies(xp, a.ndim, a.dtype, "zeros"):
        return conv_cpu.to_columns(a)
    if geo.grid == geo.out:
        return xp.ascontiguousarray(a.swapaxes(0, 1)).reshape(c, -1)
    ag = xp.zeros((c, n, *geo.grid), a.dtype)  # (C, N, *grid)
    ag[(slice(None), slice(None), *(slice(0, m) for m in geo.out))] = a.swapaxes(0, 1)
    return ag.reshape(c, -1)


def from_grid(xp: Any, ag: Any, n: int, geo: Geometry, bias: Any = None, out: Any = None,
              epilogue: Callable | None = None) -> Any:
    """ag (C, N*prod(grid)) -> (N, C, *out) contiguous (or written into `out`), cropped, plus
    bias (C,) when given, through `epilogue` (default `add_bias`)."""
    c = ag.shape[0]
    at = ag.reshape(c, n, *geo.grid)[(slice(None), slice(None), *(slice(0, m) for m in geo.out))]
    y = xp.empty((n, c, *geo.out), ag.dtype) if out is None else out
    (epilogue or add_bias)(xp, at.swapaxes(0, 1), bias, y)
    return y


def add_bias(xp: Any, src: Any, bias: Any, out: Any) -> None:
    """The plain epilogue: out (N, O, *out) = src (a view of the GEMM's result, any strides)
    + bias (O,) when given, in one pass: the bias add rides on the transposing copy."""
    if bias is None:
        if src is not out:  # a pointwise conv's GEMM writes its output in place
            out[...] = src
    else:
        xp.add(src, bias.reshape(-1, *(1,) * (out.ndim - 2)), out=out)


def _geometry(shape: Ints, w_shape: Ints, attrs: dict, compiled: bool) -> Geometry:
    """Geometry of x (N, C, *S) with weight (O, C/G, *K); `compiled`: for conv_cpu's passes."""
    return geometry(tuple(shape[2:]), tuple(w_shape[2:]), tuple(attrs["stride"]),
                    tuple(attrs["dilation"]), tuple(tuple(p) for p in attrs["padding"]),
                    width=w_shape[0] // attrs["groups"], plain=compiled)


def _is_pointwise(geo: Geometry) -> bool:
    """1x1, stride 1, unpadded: the input already is its own im2col matrix."""
    return all(k == 1 for k in geo.kernel) and all(s == 1 for s in geo.stride) and not any(
        b or a for b, a in geo.pads)


def _chunks(xp: Any, n: int, c: int, geo: Geometry, itemsize: int) -> list[slice]:
    """Slices of the batch whose im2col matrices fit the device's IM2COL_BYTES (at least one
    image each): on the CPU each chunk's matrix is still in cache when its GEMM reads it."""
    per_image = c * math.prod(geo.kernel) * math.prod(geo.grid) * itemsize
    b = max(1, IM2COL_BYTES[device_name(xp)] // per_image)
    return [slice(a, min(a + b, n)) for a in range(0, n, b)]


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """x (N, C, *S) -> y (N, O, *out); weight (O, C/G, *K), bias (O,) optional. An inference
    Winograd step gets the weight's transform (`winograd`, runtime/model.py) instead."""
    return convolve(xp, inputs, params, attrs, training, add_bias)


def convolve(xp: Any, inputs: list, params: dict, attrs: dict, training: bool,
             epilogue: Callable, relu: bool = False) -> tuple:
    """`forward`, with `epilogue` writing each GEMM result out with its bias (a fused kernel
    adds its ReLU there, and says so with `relu` for the Winograd path, whose own output
    transform applies both).

    saved: with `algorithm: winograd` (3x3, stride 1: runtime/kernels/winograd.py), a copy of
    x and the transformed weight. Otherwise im2col: the matrix (G, C/G*prod(K), N*prod(grid))
    when the batch is one chunk ("columns"), else a copy of x ("input": backward rebuilds the
    matrix chunk by chunk, cheaper than keeping a matrix prod(K) times larger, and so does
    the compiled fused schedule, "fused"), then x's shape; a pointwise conv's matrix is a
    view of x itself.
    """
    (x,) = inputs
    w, bias, g = params.get("weight"), params.get("bias"), attrs["groups"]
    if attrs.get("algorithm") == "winograd":
        u = params.get("winograd")
        u = winograd.filter_transform(xp, w) if u is None else u
        y = winograd.forward(xp, x, u, bias, attrs["padding"], relu)
        # A copy in training: a later step may write into its input (evaluation keeps no tape).
        return y, ((x.copy() if training else x), u)
    mode = attrs.get("padding_mode", "zeros")
    compiled = conv_cpu.applies(xp, x.ndim, x.dtype, mode)
    geo = _geometry(x.shape, w.shape, attrs, compiled)
    n, c, o = x.shape[0], x.shape[1], w.shape[0]
    if _is_pointwise(geo):
        x4 = x.reshape(n, g, c // g, -1)  # (N, G, C/G, P)
        y = blas.matmul(xp, w.reshape(g, o // g, c // g), x4)  # (N, G, O/G, P)
        y = y.reshape(n, o, *geo.out)  # (N, O, *out)
        if compiled:
            conv_cpu.add_bias(y, bias, relu)
        else:
            epilogue(xp, y, bias, y)
        return y, (x4, x.shape)
    if conv_cpu.fused(xp, x, w, geo, g, mode):
        y = conv_cpu.forward(x, w, bias, relu, geo)
        return y, ((x.copy() if training else x), x.shape, "fused")
    w3 = w.reshape(g, o // g, -1)
    y = xp.empty((n, o, *geo.out), x.dtype)
    chunks = _chunks(xp, n, c, geo, x.dtype.itemsize)
    for b in chunks:
        cols = im2col(xp, x[b], geo, mode, g)  # (G, C/G*KK, Nb*grid)
        yg = blas.matmul(xp, w3, cols)  # (G, O/G, Nb*grid)
        if compiled:
            conv_cpu.from_columns(yg.reshape(o, -1), bias, relu, y[b])
        else:
            from_grid(xp, yg.reshape(o, -1), b.stop - b.start, geo, bias, y[b], epilogue)
    if len(chunks) == 1:
        return y, (cols, x.shape, "columns")
    # A copy in training: a later step may write into its input (evaluation keeps no tape).
    return y, ((x.copy() if training else x), x.shape, "input")


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             need_dx: bool = True) -> tuple[list, dict]:
    """dy (N, O, *out) -> [dx (N, C, *S) or None without need_dx], {weight, bias}.

    The im2col matrix is rebuilt per chunk of images and reused for the column gradient.
    """
    if attrs.get("algorithm") == "winograd":
        return _winograd_backward(xp, dy, saved, params, attrs, need_dx)
    cols, shape = saved[:2]
    w, g, mode = params["weight"], attrs["groups"], attrs.get("padding_mode", "zeros")
    geo = _geometry(shape, w.shape, attrs, conv_cpu.applies(xp, len(shape), dy.dtype, mode))
    n, o = shape[0], w.shape[0]
    w3 = w.reshape(g, o // g, -1)  # (G, O/G, C/G*KK)
    if _is_pointwise(geo):
        dy4 = dy.reshape(n, g, o // g, -1)  # (N, G, O/G, P)
        dw = blas.matmul(xp, dy4, cols.swapaxes(2, 3)).sum(axis=0)  # (G, O/G, C/G)
        dx = blas.matmul(xp, w3.swapaxes(1, 2), dy4).reshape(shape) if need_dx else None
        db = dy4.sum(axis=(0, 3)).reshape(o)
    elif saved[2] == "fused":
        dx, dw, db = conv_cpu.backward(dy, cols, w, geo, need_dx)
    else:
        x, whole = cols, saved[2] == "columns"
        dx = xp.empty(shape, dy.dtype) if need_dx else None
        dwt = db = None
        for b in [slice(0, n)] if whole else _chunks(xp, n, shape[1], geo, dy.dtype.itemsize):
            if not whole:
                cols = im2col(xp, x[b], geo, mode, g)  # (G, C/G*KK, Nb*grid)
            dyg = to_grid(xp, dy[b], geo)  # (O, Nb*grid)
            part = dyg.sum(axis=1)  # zeros off the outputs add nothing
            db = part if db is None else db + part
            dyg = dyg.reshape(g, o // g, -1)  # (G, O/G, Nb*grid)
            # As cols @ dyg.T: the long grid axis is then the shared axis of two row-major
            # operands, 1.3-4x faster in OpenBLAS than dyg @ cols.T for these skinny shapes.
            part = blas.matmul(xp, cols, dyg.swapaxes(1, 2))  # (G, C/G*KK, O/G)
            dwt = part if dwt is None else dwt + part
            if need_dx:
                dcols = blas.matmul(xp, w3.swapaxes(1, 2), dyg, out=cols)  # (G, C/G*KK, Nb*grid)
                col2im(xp, dcols, b.stop - b.start, geo, mode, out=dx[b])  # (Nb, C, *S)
        dw = dwt.swapaxes(1, 2)  # (G, O/G, C/G*KK)
    grads = {"weight": dw.reshape(w.shape)}
    if "bias" in params:
        grads["bias"] = db
    return [dx], grads


def _winograd_backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
                       need_dx: bool) -> tuple[list, dict]:
    x, u = saved
    dx, du = winograd.backward(xp, dy, x, u, attrs["padding"], need_dx)
    grads = {"weight": winograd.filter_transform_adjoint(xp, du)}
    if "bias" in params:
        n, o = dy.shape[:2]
        grads["bias"] = dy.reshape(n, o, -1).sum(axis=2).sum(axis=0)
    return [dx], grads
