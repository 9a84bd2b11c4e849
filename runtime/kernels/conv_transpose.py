"""Conv_transpose kernels. Shape rule: cnnc/ops/conv_transpose.py."""

from __future__ import annotations

from typing import Any

from cnnc_runtime import blas
from cnnc_runtime.kernels.conv import Geometry, col2im, from_grid, geometry, im2col, to_grid

Ints = tuple[int, ...]


def _geometry(shape: Ints, w_shape: Ints, attrs: dict) -> Geometry:
    """Geometry of the conv that a transposed conv of x (N, C, *S) with weight (C, O/G, *K)
    is the input gradient of: it maps the output (*out) back to S with the same weight,
    stride and dilation, padding (p, p) per axis."""
    kernel, stride, dilation = tuple(w_shape[2:]), tuple(attrs["stride"]), tuple(attrs["dilation"])
    padding, extra, sizes = tuple(attrs["padding"]), tuple(attrs["output_padding"]), shape[2:]
    out = tuple((s - 1) * st - 2 * p + d * (k - 1) + op + 1  # PyTorch's rule
                for s, k, st, p, op, d in zip(sizes, kernel, stride, padding, extra, dilation))
    # With output_padding >= stride (allowed below the dilation) that conv would give more
    # than S windows: ask for exactly S.
    return geometry(out, kernel, stride, dilation, tuple((p, p) for p in padding), tuple(sizes),
                    width=shape[1] // attrs["groups"])


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """x (N, C, *S) -> y (N, O, *out); weight (C, O/G, *K), bias (O,) optional.

    saved: x as the GEMM operand (G, C/G, N*prod(grid)) for the weight gradient, and x's shape.
    """
    (x,) = inputs
    w, bias, g = params["weight"], params.get("bias"), attrs["groups"]
    geo = _geometry(x.shape, w.shape, attrs)
    n, c = x.shape[:2]
    xg = to_grid(xp, x, geo).reshape(g, c // g, -1)  # (G, C/G, N*grid)
    cols = blas.matmul(xp, w.reshape(g, c // g, -1).swapaxes(1, 2), xg)  # (G, O/G*KK, N*grid)
    y = col2im(xp, cols, n, geo, "zeros")  # (N, O, *out)
    if bias is not None:
        y += bias.reshape(-1, *(1,) * len(geo.out))
    return y, (xg, x.shape)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dy (N, O, *out) -> [dx (N, C, *S)], {weight, bias (when present)}: dx is a plain conv
    of dy with the same weight, the weight gradient one GEMM against its im2col matrix."""
    xg, shape = saved
    w, g = params["weight"], attrs["groups"]
    geo = _geometry(shape, w.shape, attrs)
    n, c = shape[:2]
    cols = im2col(xp, dy, geo, "zeros", g)  # (G, O/G*KK, N*grid)
    dxg = blas.matmul(xp, w.reshape(g, c // g, -1), cols)  # (G, C/G, N*grid)
    grads = {"weight": blas.matmul(xp, xg, cols.swapaxes(1, 2)).reshape(w.shape)}  # (C, O/G, *K)
    if "bias" in params:
        grads["bias"] = dy.sum(axis=(0, *range(2, dy.ndim)))
    return [from_grid(xp, dxg.reshape(c, -1), n, geo)], grads
