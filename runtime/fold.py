"""BatchNorm folding for inference: new conv weights and biases that include the BN."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from runtime.plan import Fold


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
        out[f.into_weight] = (w * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
        out[f.into_bias] = bias.astype(w.dtype)
    return out
