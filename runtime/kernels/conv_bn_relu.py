"""Fused conv -> batchnorm -> ReLU for training. Pattern: cnnc/lower/fuse.py.

In inference the BatchNorm is folded into the conv (runtime/fold.py) and `conv_relu` runs
instead. Params: the conv's `weight` (and `bias`), the BatchNorm's as `bn.weight`, `bn.bias`,
`bn.running_mean`, `bn.running_var`. Attrs: `conv` and `bn`, each the part's own attributes.
"""

from __future__ import annotations

from typing import Any

from runtime.kernels import conv_bn

SKIPS_DX = True  # passes need_dx on (see conv.SKIPS_DX)


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, O, *out) = relu(bn(conv(x))), the ReLU applied in place on the BN's output."""
    z, saved = conv_bn.forward(xp, inputs, params, attrs, training)
    if z is saved[1].get("xhat"):  # a BN without affine returns the xhat it saved: copy
        z = xp.maximum(z, 0)
    else:
        xp.maximum(z, 0, out=z)
    return z, (saved, z)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             need_dx: bool = True) -> tuple[list, dict]:
    inner, z = saved
    return conv_bn.backward(xp, dy * (z > 0), inner, params, attrs, need_dx)
