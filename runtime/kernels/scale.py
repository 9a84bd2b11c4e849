"""Scale kernels. Shape rule: cnnc/ops/scale.py."""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels.batchnorm import channel_sum, per_channel


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, ...) = weight[c] * x (N, C, ...); a vector (N, F) has one weight per feature.
    saved: x."""
    (x,) = inputs
    return x * per_channel(params["weight"], x.ndim), x


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = weight[c] * dy; dweight[c] = sum of dy * x over every axis but the channels."""
    x = saved
    dx = dy * per_channel(params["weight"], dy.ndim)
    return [dx], {"weight": channel_sum(xp, dy * x)}
