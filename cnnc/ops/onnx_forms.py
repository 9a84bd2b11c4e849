"""What an op's ONNX emitter (`Rule.onnx`) works with, and the pieces several emitters share.

An emitter `onnx(a, xs, y, e)` gets the layer's attributes, its input and output shapes (batch
excluded, as everywhere in the IR) and an `Emitter` from cnnc/export/onnx.py, through which it
adds plain nodes and constants. Nothing here imports onnx: `cnnc compile` loads these modules
and must stay fast. Shapes in ONNX carry the batch axis, so ONNX axis = IR axis + 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Protocol

Shape = tuple[int, ...]


class Emitter(Protocol):
    """One layer's view of the ONNX graph being built."""

    inputs: tuple[str, ...]    # value names of the layer's inputs, in port order
    output: str                # the value name the layer's main output must have
    lowered: dict[str, Any]    # the rule's lowered attributes (Rule.lower), resolved
    opset: int

    def node(self, op_type: str, inputs: Sequence[str], out: str | None = None,
             extra_outputs: Sequence[str] = (), **attrs: Any) -> str:
        """Add a node; its first output is `out` or a fresh name, which it returns."""

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 constant."""

    def floats(self, values: Any, shape: Sequence[int]) -> str:
        """A float constant of the graph's dtype (`values` flat, row-major, or one number)."""

    def param(self, name: str) -> str | None:
        """The initializer holding the layer's parameter or buffer `name`; None if it has none."""

    def param_shape(self, name: str) -> Shape:
        ...

    def extra(self, name: str) -> str | None:
        """The value name of an extra output (`indices`) when something reads it, else None."""

    def refuse(self, variant: str) -> NoReturn:
        """Stop the export: `variant` has no exact ONNX form at this opset."""


OnnxEmitter = Callable[[Any, tuple[Shape, ...], Shape, Emitter], None]


def unary(op_type: str, **attrs: Any) -> OnnxEmitter:
    """The emitter of an op that is one ONNX node on its first input."""
    def emit(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
        e.node(op_type, [e.inputs[0]], e.output, **attrs)
    return emit


def flat_pads(pairs: Sequence[tuple[int, int]]) -> list[int]:
    """ONNX's `pads`: every axis's before, then every axis's after."""
    return [b for b, _ in pairs] + [a for _, a in pairs]


def has_padding(pairs: Sequence[tuple[int, int]]) -> bool:
    return any(b or a for b, a in pairs)


def pad_spatial(e: Emitter, x: str, shape: Shape, pairs: Sequence[tuple[int, int]], mode: str,
                value: float = 0.0, out: str | None = None) -> str:
    """x padded on its spatial axes by (before, after) pairs, in cnnc's padding `mode`.

    zeros/reflect/replicate are Pad's constant/reflect/edge; circular (Pad's `wrap` exists only
    from opset 19) is the input's far ends concatenated on, one axis at a time, at every opset.
    """
    if mode == "circular":
        for axis, ((before, after), n) in enumerate(zip(pairs, shape[1:]), start=2):
            parts = []
            if before:
                parts.append(e.node("Slice", [x, e.ints([n - before]), e.ints([n]),
                                              e.ints([axis])]))
            parts.append(x)
            if after:
                parts.append(e.node("Slice", [x, e.ints([0]), e.ints([after]), e.ints([axis])]))
            last = axis == len(pairs) + 1
            x = e.node("Concat", parts, out if last else None, axis=axis) if len(parts) > 1 \
                else (e.node("Identity", [x], out) if last and out else x)
        return x
    onnx_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}[mode]
    pads = flat_pads([(0, 0), (0, 0), *pairs])
    inputs = [x, e.ints(pads)] + ([e.floats(value, ())] if mode == "zeros" else [])
    return e.node("Pad", inputs, out, mode=onnx_mode)


def with_batch(e: Emitter, x: str, rest: Sequence[int]) -> str:
    """The int64 shape [N, *rest] with x's (dynamic) batch size N."""
    n = e.node("Shape", [x], end=1)
    return e.node("Concat", [n, e.ints(list(rest))], axis=0)


def per_channel(e: Emitter, name: str, rank: int) -> str:
    """A (C,) parameter as (C, 1, ...), to broadcast over a (N, C, *spatial) value of `rank`
    axes (batch included); unchanged on a vector (N, C)."""
    p = e.param(name)
    assert p is not None
    if rank <= 2:
        return p
    c = e.param_shape(name)[0]
    return e.node("Reshape", [p, e.ints([c] + [1] * (rank - 2))])


def reduce(e: Emitter, op_type: str, x: str, axes: Sequence[int], out: str | None = None) -> str:
    """A Reduce* node keeping its axes; `axes` an attribute before opset 18, an input from it."""
    if e.opset >= 18:
        return e.node(op_type, [x, e.ints(list(axes))], out, keepdims=1)
    return e.node(op_type, [x], out, axes=list(axes), keepdims=1)
