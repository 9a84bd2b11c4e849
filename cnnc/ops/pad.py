"""Explicit padding of the spatial axes. Kernel: runtime/kernels/pad.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import NonNegativeInt

from cnnc.errors import RuleError
from cnnc.ops import onnx_windows
from cnnc.ops.base import (
    LayerAttrs,
    PaddingMode,
    Rule,
    Shape,
    Window,
    fmt,
    resolve_padding,
    spatial,
)
from cnnc.ops.labels import padding_text


class PadAttrs(LayerAttrs):
    op: Literal["pad"]
    padding: NonNegativeInt | list[NonNegativeInt | list[NonNegativeInt]]
    mode: PaddingMode = "zeros"
    value: float = 0.0


def pads(a: PadAttrs, x: Shape) -> tuple[tuple[int, int], ...]:
    n = len(spatial(x, "pad"))
    return resolve_padding(a.padding, x[1:], (1,) * n, (1,) * n, (1,) * n)


def infer(a: PadAttrs, xs: tuple[Shape, ...]) -> Shape:
    (x,) = xs
    p = pads(a, x)
    if a.mode in ("reflect", "circular"):
        # reflect mirrors inside the input (pad < size); circular wraps it once (pad <= size)
        limit = 1 if a.mode == "reflect" else 0
        if any(max(b, e) > s - limit for s, (b, e) in zip(x[1:], p)):
            need = "smaller than" if a.mode == "reflect" else "at most"
            raise RuleError("size", f"{a.mode} padding must be {need} the input size "
                                    f"{fmt(x[1:])}", attr="padding")
    return (x[0], *(s + b + e for s, (b, e) in zip(x[1:], p)))


def receptive(a: PadAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    return [Window(1, 1, -before) for before, _ in pads(a, xs[0])]


def lower(a: PadAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"padding": pads(a, xs[0]), "mode": a.mode, "value": a.value}


def label(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    return " ".join(p for p in (padding_text(a.padding), "" if a.mode == "zeros" else a.mode) if p)


RULE = Rule(PadAttrs, infer, "shape", receptive=receptive, lower=lower, label=label,
            aliases=("zeropad2d",), onnx=onnx_windows.pad)
