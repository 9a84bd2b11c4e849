"""Maxunpool kernels. Shape rule: cnnc/ops/maxunpool.py.

Indices follow PyTorch (MaxUnpool1d/2d/3d): flat within each (n, c) plane of the output, as
max pooling writes them for its input. (ONNX's MaxPool Indices flatten over the whole tensor;
an ONNX exporter converts.)
"""

from __future__ import annotations

import math
from typing import Any


def _flat(xp: Any, indices: Any, plane: int) -> Any:
    """Indices (N, C, *in) into the flat output (N*C*plane,): each plane's offset added."""
    n, c = indices.shape[:2]
    rows = indices.reshape(n * c, -1)  # (N*C, in)
    if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= plane):
        raise ValueError(f"maxunpool: an index lies outside the {plane}-cell output plane; the "
                         "output must be at least as large as the pooling's input")
    return (rows + xp.arange(n * c, dtype=rows.dtype)[:, None] * plane).ravel()


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *out): zeros, with values (N, C, *in) put at indices (N, C, *in) int64; a third
    input (`like`) only gave the compiler the output size (attrs["out"]; Rule.size_inputs), so
    it is not an input here. Where two values share an index (a pooling
    of overlapping windows picked a cell twice) one of them is kept; PyTorch does not say which
    either, and unpooling the pooled values themselves, they are equal.

    saved (training only): the flat output position of every value.
    """
    x, indices = inputs
    n, c = x.shape[:2]
    out = tuple(attrs["out"])
    flat = _flat(xp, indices, math.prod(out))
    y = xp.zeros((n, c, *out), dtype=x.dtype)
    y.reshape(-1)[flat] = x.reshape(-1)
    return y, ((flat, x.shape) if training else None)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dvalues (N, C, *in): dy read at each value's position; the indices are integers and get
    no gradient (None). Two values at one index both get its dy,
    as in PyTorch, though forward kept only the last: exact where pooling windows do not
    overlap."""
    flat, x_shape = saved
    dx = dy.reshape(-1)[flat].reshape(x_shape)
    return [dx, None], {}
