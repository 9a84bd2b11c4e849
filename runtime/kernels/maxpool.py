"""Maxpool kernels. Shape rule: cnnc/ops/maxpool.py."""

from __future__ import annotations

from typing import Any

from runtime.kernels import pooling


def _geometry(attrs: dict, x_shape: tuple[int, ...]) -> tuple:
    kernel, stride, padding, out = attrs["kernel"], attrs["stride"], attrs["padding"], attrs["out"]
    dilation = attrs.get("dilation", (1,) * len(kernel))
    sizes = pooling.padded_sizes(x_shape[2:], kernel, stride, padding, dilation, out)
    return kernel, stride, padding, dilation, out, sizes


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *out) = maximum over each window of x (N, C, *spatial), padding at -inf.

    saved (training only): the winning kernel offset of every output, (N, C, *out) int8 for up
    to 127 offsets, and x's shape.
    """
    (x,) = inputs
    kernel, stride, padding, dilation, out, sizes = _geometry(attrs, x.shape)
    xs = pooling.split_last(xp, x, sizes, padding, stride[-1], -xp.inf)
    starts = pooling.offsets(kernel, dilation)
    y = xs[pooling.window(starts[0], stride, out)].copy()  # (N, C, *out)
    if not training:
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
    return y, (arg, x.shape)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): each dy goes to the one input cell that won its window."""
    arg, x_shape = saved
    kernel, stride, padding, dilation, out, sizes = _geometry(attrs, x_shape)
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
