"""Slice kernels. Shape rule: cnnc/ops/slice.py."""

from __future__ import annotations

from typing import Any


def _index(attrs: dict) -> tuple[slice, ...]:
    return (slice(None),) * attrs["axis"] + (slice(attrs["start"], attrs["stop"], attrs["step"]),)


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = x[:, ..., start:stop:step] on array axis attrs["axis"] (1 = channels), indices
    resolved by the compiler: a view of x where attrs["view"] says so, else a contiguous
    copy. saved: x's shape."""
    (x,) = inputs
    y = x[_index(attrs)]
    return (y if attrs["view"] else xp.ascontiguousarray(y)), x.shape


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx: dy where the slice was taken, zeros elsewhere."""
    dx = xp.zeros(saved, dtype=dy.dtype)
    dx[_index(attrs)] = dy
    return [dx], {}
