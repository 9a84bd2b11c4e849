"""Inference-only tensors: BatchNorm folded into conv weights and biases, and weights in the
form their kernel computes with (Winograd filters)."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from cnnc_runtime.kernels import winograd
from cnnc_runtime.plan import Fold, Transform


def fold(xp: ModuleType, folds: tuple[Fold, ...], tensors: Mapping[str, Any]) -> dict[str, Any]:
    """The folded tensors by name (`<conv>.weight:folded`, `<conv>.bias:folded`).

    Done in float64 and cast back, so folding adds no rounding beyond the final cast.
    """
    out = {}
    for f in folds:
        w = tensors[f.weight]  # (O, I/groups, *K)
        var = tensors[f.running_var].astype(xp.float64)
        scale = 1 / xp.sqrt(var + f.eps)
        if f.bn_weight is not None:
            scale = scale * tensors[f.bn_weight]
        bias = -tensors[f.running_mean].astype(xp.float64)
        if f.bias is not None:
            bias = bias + tensors[f.bias]
        bias = bias * scale
        if f.bn_bias is not None:
            bias = bias + tensors[f.bn_bias]
        out[f.into_weight] = _scaled(xp, w, scale)
        out[f.into_bias] = bias.astype(w.dtype)
    return out


def _scaled(xp: ModuleType, w: Any, scale: Any) -> Any:
    """w (O, ...) times scale (O,) per output channel, in float64, cast back to w's dtype;
    a block of output channels at a time, so the float64 temporary stays small (a process that
    keeps freed memory would otherwise hold a float64 copy of the largest weights)."""
    out = xp.empty_like(w)
    rows = max(1, (1 << 20) // max(w[0].size, 1))
    for a in range(0, w.shape[0], rows):
        block = scale[a:a + rows].reshape((-1,) + (1,) * (w.ndim - 1))
        out[a:a + rows] = w[a:a + rows] * block
    return out


def transform(xp: ModuleType, transforms: tuple[Transform, ...],
              tensors: Mapping[str, Any]) -> dict[str, Any]:
    """The transformed weights by name (`<weight>:winograd`)."""
    kinds = {"winograd": winograd.filter_transform}
    return {t.into: kinds[t.kind](xp, tensors[t.weight]) for t in transforms}
