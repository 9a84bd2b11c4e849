"""Layernorm kernels. Shape rule: cnnc/ops/layernorm.py.

Input (N, C) or (N, C, *spatial); each position's C channels are normalised with their biased
mean and variance (PyTorch's LayerNorm(C) on channels-last, ConvNeXt's LayerNorm2d), the same
in training and evaluation. Params: `weight`, `bias` (C,), absent when not affine.
"""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels.groupnorm import affine, affine_backward, normalise, normalise_backward


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, C, *spatial) = (x - mean) / sqrt(var + eps) * weight + bias, statistics over the
    channels at each position."""
    (x,) = inputs
    xhat, inv_std = normalise(xp, x, (1,), attrs["eps"])  # inv_std (N, 1, *spatial)
    return affine(xp, xhat, params), {"xhat": xhat, "inv_std": inv_std}


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx (N, C, ...) and, when affine, dweight and dbias (C,)."""
    xhat = saved["xhat"]
    dxhat, dparams = affine_backward(xp, dy, xhat, params)
    return [normalise_backward(xp, dxhat, xhat, saved["inv_std"], (1,))], dparams
