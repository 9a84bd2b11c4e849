"""Fused conv -> batchnorm for training (the BN feeding a residual add). Pattern:
cnnc/lower/fuse.py.

In inference the BatchNorm is folded into the conv (runtime/fold.py) and plain `conv` runs.
Params: the conv's `weight` (and `bias`), the BatchNorm's as `bn.weight`, `bn.bias`,
`bn.running_mean`, `bn.running_var`. Attrs: `conv` and `bn`.
"""

from __future__ import annotations

from typing import Any

from runtime.kernels import batchnorm, conv

BN = "bn."
SKIPS_DX = True  # passes need_dx on (see conv.SKIPS_DX)


def _split(params: dict) -> tuple[dict, dict]:
    conv_params = {k: v for k, v in params.items() if not k.startswith(BN)}
    bn_params = {k[len(BN):]: v for k, v in params.items() if k.startswith(BN)}
    return conv_params, bn_params


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, O, *out) = bn(conv(x)); the conv output is dropped once normalised."""
    conv_params, bn_params = _split(params)
    y, conv_saved = conv.forward(xp, inputs, conv_params, attrs["conv"], training)
    z, bn_saved = batchnorm.forward(xp, [y], bn_params, attrs["bn"], training)
    return z, (conv_saved, bn_saved)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             need_dx: bool = True) -> tuple[list, dict]:
    conv_saved, bn_saved = saved
    conv_params, bn_params = _split(params)
    [dconv], dbn = batchnorm.backward(xp, dy, bn_saved, bn_params, attrs["bn"])
    dinputs, dparams = conv.backward(xp, dconv, conv_saved, conv_params, attrs["conv"], need_dx)
    return dinputs, dparams | {BN + k: v for k, v in dbn.items()}
