"""Centre crop of the first input to the spatial size of the second (U-Net skips). Kernel: runtime/kernels/crop.py."""

from __future__ import annotations

from typing import Any, Literal

from cnnc.errors import RuleError
from cnnc.ops.base import LayerAttrs, Rule, Shape, Window, fmt, spatial
from cnnc.ops.onnx_forms import Emitter


class CropAttrs(LayerAttrs):
    op: Literal["crop"]


def offsets(x: Shape, ref: Shape) -> tuple[int, ...]:
    """Pixels dropped before the kept window on each axis: floor((n - r) / 2), so an odd pixel
    goes after. (torchvision's center_crop rounds half to even instead, which differs when
    n - r is 3 mod 4; U-Net's crops are even.)"""
    return tuple((s - r) // 2 for s, r in zip(x[1:], ref[1:]))


def infer(a: CropAttrs, xs: tuple[Shape, ...]) -> Shape:
    x, ref = xs
    if len(spatial(x, "crop")) != len(spatial(ref, "crop")):
        raise RuleError("shape", f"cannot crop {fmt(x)} to the size of {fmt(ref)}: they have "
                                 "different numbers of spatial axes")
    if any(r > s for s, r in zip(x[1:], ref[1:])):
        raise RuleError("shape", f"cannot crop {fmt(x[1:])} to the larger {fmt(ref[1:])}",
                        hint="the first input of `crop` is the larger tensor, the second gives "
                             "the size: `from: [skip, up]`")
    return (x[0], *ref[1:])


def receptive(a: CropAttrs, xs: tuple[Shape, ...]) -> list[Window]:
    return [Window(1, 1, off) for off in offsets(*xs)]


def lower(a: CropAttrs, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {"start": offsets(*xs), "size": y[1:]}


def to_onnx(a: CropAttrs, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    starts = offsets(*xs)
    ends = [s + r for s, r in zip(starts, xs[1][1:])]
    axes = list(range(2, len(xs[0]) + 1))  # ONNX axes count the batch
    e.node("Slice", [e.inputs[0], e.ints(starts), e.ints(ends), e.ints(axes)], e.output)


RULE = Rule(CropAttrs, infer, "merge", arity=(2, 2), size_inputs=(1,), receptive=receptive,
            lower=lower, onnx=to_onnx)
