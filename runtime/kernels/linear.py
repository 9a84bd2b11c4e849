"""Linear kernels. Shape rule: cnnc/ops/linear.py."""

from __future__ import annotations

from typing import Any

from cnnc_runtime import blas

SKIPS_DX = True  # backward leaves dx out when the executor says nobody reads it


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, O) = x (N, F) @ weight.T (O, F) + bias (O,); bias is optional."""
    (x,) = inputs
    y = blas.matmul(xp, x, params["weight"].T)  # (N, O): a GEMM on the transposed view
    if "bias" in params:
        y += params["bias"]
    return y, x  # x is needed for dweight


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             need_dx: bool = True) -> tuple[list, dict]:
    """dx (N, F) = dy @ weight (None without need_dx); dweight (O, F) = dy.T @ x; dbias (O,)
    = sum of dy over N."""
    x = saved
    dparams = {"weight": blas.matmul(xp, dy.T, x)}
    if "bias" in params:
        dparams["bias"] = dy.sum(axis=0)
    return [blas.matmul(xp, dy, params["weight"]) if need_dx else None], dparams
