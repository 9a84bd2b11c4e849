"""Stack kernels. Shape rule: cnnc/ops/stack.py."""

from __future__ import annotations

from typing import Any


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y: the k inputs (N, ...) of one shape stacked along array axis attrs["axis"] (1 = just
    after the batch axis), which has size k. saved: nothing."""
    return xp.stack(inputs, axis=attrs["axis"]), None


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx_i = dy at index i of the stacked axis: strided views of dy, no copies."""
    axis = attrs["axis"]
    lead = (slice(None),) * axis
    return [dy[lead + (i,)] for i in range(dy.shape[axis])], {}
