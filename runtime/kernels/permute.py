"""Permute kernels. Shape rule: cnnc/ops/permute.py.

The output is a contiguous copy, not a strided view as PyTorch's permute gives: a reshape of a
permuted tensor copies anyway (in NumPy as in PyTorch), so a view would only move that copy
into the reshape, which the buffer schedule (cnnc/lower/schedule.py) counts as free storage.
A channel shuffle costs one copy either way.
"""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, x.shape[1 + dims[0]], ...): the non-batch axes of x in the order attrs["dims"]
    (0 = channels). saved: nothing."""
    (x,) = inputs
    return xp.ascontiguousarray(x.transpose(0, *(d + 1 for d in attrs["dims"]))), None


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx: dy with the axes put back, by the inverse permutation."""
    dims = attrs["dims"]
    inverse = sorted(range(len(dims)), key=lambda i: dims[i])
    return [xp.ascontiguousarray(dy.transpose(0, *(i + 1 for i in inverse)))], {}
