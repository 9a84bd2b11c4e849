"""Fused conv -> ReLU, in training and in inference (where a folded conv + BN + ReLU also
runs as this kernel). Pattern: cnnc/lower/fuse.py. Params: the conv's; attrs: `conv`."""

from __future__ import annotations

from typing import Any

from runtime.kernels import conv

SKIPS_DX = True  # passes need_dx on (see conv.SKIPS_DX)


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, O, *out) = relu(conv(x)), in place on the conv's own output buffer."""
    y, saved = conv.forward(xp, inputs, params, attrs["conv"], training)
    xp.maximum(y, 0, out=y)
    return y, (saved, y)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             need_dx: bool = True) -> tuple[list, dict]:
    inner, y = saved
    return conv.backward(xp, dy * (y > 0), inner, params, attrs["conv"], need_dx)
