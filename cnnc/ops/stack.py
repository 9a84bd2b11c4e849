"""Inputs of one shape stacked along a new axis: (C, H, W) x k -> (k, C, H, W).
Kernel: runtime/kernels/stack.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cnnc.errors import RuleError
from cnnc.ops import onnx_pointwise
from cnnc.ops.base import LayerAttrs, Rule, Shape, fmt


class StackAttrs(LayerAttrs):
    op: Literal["stack"]
    axis: int = Field(0, description="where the new axis goes among the output's axes, batch "
                                     "excluded: 0 = first, just after the batch axis; negative "
                                     "counts from the last, -1 = last")


def position(a: StackAttrs, x: Shape) -> int:
    """The new axis's index in the output, 0..rank of the inputs."""
    n = len(x) + 1
    if not -n <= a.axis < n:
        raise RuleError("shape", f"`axis` {a.axis} is out of range: stacking {fmt(x)} inputs "
                                 f"gives {n} axes (batch excluded)",
                        hint=f"use 0 to {n - 1}, or -{n} to -1", attr="axis")
    return a.axis % n


def infer(a: StackAttrs, xs: tuple[Shape, ...]) -> Shape:
    first = xs[0]
    for i, x in enumerate(xs[1:], start=1):
        if x != first:
            raise RuleError("shape", f"stack inputs must have equal shapes: input 0 is "
                                     f"{fmt(first)}, input {i} is {fmt(x)}",
                            hint="`concat` joins inputs that differ in channels", attr="from")
    axis = position(a, first)
    return (*first[:axis], len(xs), *first[axis:])


def lower(a: StackAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"axis": position(a, xs[0]) + 1}  # an array axis: the batch axis is 0


# Pointwise: each output element is one input element (the receptive-field pass takes the
# widest input's field, as for the other merges).
def label(a: StackAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    return f"×{len(xs)}" + (f" axis {a.axis}" if a.axis else "")


RULE = Rule(StackAttrs, infer, "merge", arity=(1, None), lower=lower, label=label, sees="widest", onnx=onnx_pointwise.stack)
