"""Fused linear -> ReLU. Pattern: cnnc/lower/fuse.py. Params: the linear's; no attrs."""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels import linear, relu

SKIPS_DX = True  # passes need_dx on to the linear kernel


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, O) = relu(x @ weight.T + bias), in place on the GEMM's output."""
    y, saved = linear.forward(xp, inputs, params, attrs, training)
    xp.maximum(y, 0, out=y)
    return y, (saved, y)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             need_dx: bool = True) -> tuple[list, dict]:
    inner, y = saved
    return linear.backward(xp, relu.mask(xp, dy, y), inner, params, attrs, need_dx)
