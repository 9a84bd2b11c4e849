"""A slice of one axis, channels by default (a ShuffleNet v2 channel split is two of them):
Python's start/stop/step. Kernel: runtime/kernels/slice.py."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveInt

from cnnc.errors import RuleError
from cnnc.ops import onnx_pointwise
from cnnc.ops.base import IDENTITY_WINDOW, LayerAttrs, Rule, Shape, Window, fmt


class SliceAttrs(LayerAttrs):
    op: Literal["slice"]
    start: int = Field(0, description="first index kept; negative counts from the end")
    stop: int | None = Field(None, description="index after the last kept; default: the end")
    step: PositiveInt = 1
    axis: int = Field(0, description="the axis sliced, batch axis excluded: 0 = channels; "
                                     "negative counts from the last")


def resolve_axis(axis: int, x: Shape, attr: str = "axis") -> int:
    """A non-batch axis index in 0..rank-1 from one that may count from the end."""
    if not -len(x) <= axis < len(x):
        raise RuleError("shape", f"`{attr}` {axis} is out of range for the {len(x)} axes of "
                                 f"{fmt(x)} (batch excluded)",
                        hint=f"use 0 to {len(x) - 1}, or -{len(x)} to -1", attr=attr)
    return axis % len(x)


def bounds(a: SliceAttrs, x: Shape) -> tuple[int, int, int, int]:
    """(axis, start, stop, kept length), indices resolved to 0..n like Python's, except that
    one outside -n..n is refused instead of clamped."""
    axis = resolve_axis(a.axis, x)
    n = x[axis]
    what = "channels" if axis == 0 else f"positions on axis {axis}"
    ends = {"start": a.start, "stop": n if a.stop is None else a.stop}
    for name, i in ends.items():
        if not -n <= i <= n:
            raise RuleError("shape", f"`{name}` {i} is out of range for the {n} {what} of "
                                     f"{fmt(x)}", hint=f"indices run from -{n} to {n}", attr=name)
    start, stop = (i + n if i < 0 else i for i in ends.values())
    kept = len(range(start, stop, a.step))
    if kept == 0:
        raise RuleError("size", f"the slice {start}:{stop} of the {n} {what} of {fmt(x)} is "
                                "empty", hint="`stop` must come after `start`",
                        attr="stop" if a.stop is not None else "start")
    return axis, start, stop, kept


def infer(a: SliceAttrs, xs: tuple[Shape, ...]) -> Shape:
    x = xs[0]
    axis, _, _, kept = bounds(a, x)
    return (*x[:axis], kept, *x[axis + 1:])


def receptive(a: SliceAttrs, xs: tuple[Shape, ...]) -> list[Window] | None:
    axis, start, _, _ = bounds(a, xs[0])
    if axis == 0:
        return None  # channels: pointwise
    return [Window(1, a.step, start) if i == axis else IDENTITY_WINDOW
            for i in range(1, len(xs[0]))]


def lower(a: SliceAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    axis, start, stop, _ = bounds(a, xs[0])
    # A view when every sample stays one contiguous run (channels, step 1, as PyTorch's
    # x[:, a:b]): any later reshape is then a view too. Otherwise the kernel copies, so that a
    # reshape downstream never copies where the schedule counts no storage.
    view = a.step == 1 and all(d == 1 for d in xs[0][:axis])
    return {"axis": axis + 1, "start": start, "stop": stop, "step": a.step, "view": view}


def label(a: SliceAttrs, xs: tuple[Shape, ...], y: Shape) -> str:
    stop = "" if a.stop is None else a.stop
    where = "" if a.axis == 0 else f" axis {a.axis}"
    return f"[{a.start}:{stop}" + ("" if a.step == 1 else f":{a.step}") + "]" + where


RULE = Rule(SliceAttrs, infer, "shape", receptive=receptive, lower=lower, label=label,
            aliases=("narrow", "split", "chunk"), onnx=onnx_pointwise.slice_)
