"""Concat kernels. Shape rule: cnnc/ops/concat.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C0 + C1 + ..., ...) from inputs (N, Ci, ...) that agree on every other axis."""
    y = xp.concatenate(inputs, axis=1)
    return y, [x.shape[1] for x in inputs]


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx_i = dy's channel slice of input i: strided views of dy, no copies."""
    dxs, start = [], 0
    for c in saved:
        dxs.append(dy[:, start:start + c])
        start += c
    return dxs, {}
