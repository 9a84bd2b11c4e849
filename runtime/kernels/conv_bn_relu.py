"""Fused conv -> batchnorm -> ReLU for training: conv_bn.py with the ReLU in its normalising
pass. Pattern: cnnc/lower/fuse.py.

In inference the BatchNorm is folded into the conv (runtime/fold.py) and `conv_relu` runs
instead. Params and attrs as conv_bn's.
"""

from __future__ import annotations

from typing import Any

from cnnc_runtime.kernels import conv_bn

SKIPS_DX = True  # passes need_dx on (see conv.SKIPS_DX)
BATCH_STATISTICS = True  # as conv_bn's


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """z (N, O, *out) = relu(bn(conv(x)))."""
    return conv_bn.fused_forward(xp, inputs, params, attrs, training, relu=True)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             need_dx: bool = True) -> tuple[list, dict]:
    return conv_bn.backward(xp, dy, saved, params, attrs, need_dx)  # saved says: with ReLU
