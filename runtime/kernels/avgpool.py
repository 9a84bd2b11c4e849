"""Avgpool kernels. Shape rule: cnnc/ops/avgpool.py."""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels import pooling


def _geometry(attrs: dict, x_shape: tuple[int, ...]) -> tuple:
    kernel, stride, padding, out = attrs["kernel"], attrs["stride"], attrs["padding"], attrs["out"]
    dilation = (1,) * len(kernel)  # PyTorch's average pools have no dilation
    sizes = pooling.padded_sizes(x_shape[2:], kernel, stride, padding, dilation, out)
    return kernel, stride, padding, dilation, out, sizes


def _counts(xp: Any, x_shape: tuple[int, ...], attrs: dict, dtype: Any) -> Any:
    """Cells counted by each window's average, broadcastable to (N, C, *out).

    PyTorch's divisor: with count_include_pad the window clipped to the padded input (padding
    counts, the ceil_mode overhang past it does not); without it, the real input cells only.
    The count is a product over axes, so it is built from one short vector per axis."""
    counts = xp.ones((1,) * len(x_shape), dtype=dtype)
    for axis, (n, k, s, (b, a), o) in enumerate(
            zip(x_shape[2:], attrs["kernel"], attrs["stride"], attrs["padding"], attrs["out"])):
        lo = xp.arange(o) * s - b  # window start in input coordinates, (o,)
        if attrs["count_include_pad"]:
            count = xp.minimum(lo + k, n + a) - lo
        else:
            count = xp.minimum(lo + k, n) - xp.maximum(lo, 0)
        shape = [1] * len(x_shape)
        shape[axis + 2] = o
        counts = counts * count.astype(dtype).reshape(shape)  # exact: small integers
    return counts


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *out) = mean over each window of x (N, C, *spatial); padding cells are zeros,
    counted or not by `count_include_pad`. saved: x's shape (backward needs nothing else)."""
    (x,) = inputs
    kernel, stride, padding, dilation, out, sizes = _geometry(attrs, x.shape)
    xs = pooling.split_last(xp, x, sizes, padding, stride[-1], 0)
    starts = pooling.offsets(kernel, dilation)
    y = xs[pooling.window(starts[0], stride, out)].copy()  # (N, C, *out)
    for start in starts[1:]:
        y += xs[pooling.window(start, stride, out)]
    y /= _counts(xp, x.shape, attrs, x.dtype)  # divide like PyTorch, for equal rounding
    return y, x.shape


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, *spatial): every cell of a window gets dy / (the window's count)."""
    x_shape = saved
    kernel, stride, padding, dilation, out, sizes = _geometry(attrs, x_shape)
    g = dy / _counts(xp, x_shape, attrs, dy.dtype)  # (N, C, *out)
    dxs = xp.zeros(x_shape[:2] + sizes[:-1] + (stride[-1], -(-sizes[-1] // stride[-1])),
                   dtype=dy.dtype)  # split_last's layout of the padded input
    starts = pooling.offsets(kernel, dilation)
    for start, first in zip(starts, pooling.first_in_lattice(starts, stride)):
        w = pooling.window(start, stride, out)
        if first:
            dxs[w] = g
        else:
            dxs[w] += g
    return [pooling.merge_last(xp, dxs, x_shape, padding, stride[-1])], {}
