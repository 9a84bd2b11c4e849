"""One short line of a layer's key attributes for diagrams, as its rule words it
(`Rule.label`, cnnc/ops/labels.py), and shapes as diagrams print them."""

from __future__ import annotations

from typing import Any

from cnnc.ops import RULES

Shape = tuple[int, ...]


def shape_text(shape: Shape) -> str:
    """A shape as diagrams print it: 64×56×56."""
    return "×".join(str(d) for d in shape) if shape else "scalar"


def summarize(attrs: Any, inputs: tuple[Shape, ...], output: Shape) -> str:
    """The key attributes of a layer in one line; "" for ops that have none worth showing."""
    return RULES[attrs.op].label(attrs, inputs, output)
