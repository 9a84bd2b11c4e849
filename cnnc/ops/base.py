"""What every op rule is made of: the attribute base model, the `Rule` record and window arithmetic.

Shapes in the IR exclude the batch dimension: `(C, *spatial)` for feature maps, `(F,)` for vectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt

from cnnc.errors import RuleError

Shape = tuple[int, ...]

# An attribute given once for every spatial axis, or once per axis.
PerAxis = PositiveInt | list[PositiveInt]
# Padding: one int for all sides, one per axis, a [before, after] pair per axis, or a keyword.
Padding = (NonNegativeInt | list[NonNegativeInt | list[NonNegativeInt]]
           | Literal["same", "valid"])
PaddingMode = Literal["zeros", "reflect", "replicate", "circular"]


class LayerAttrs(BaseModel):
    """Keys every layer accepts; each op's model adds its own attributes and the `op` tag."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    id: str | int | None = Field(None, description="unique name; default `<op>_<n>`")
    from_: str | int | list[str | int] | None = Field(
        None, alias="from",
        description="input layer id(s); default: the previous layer (`input` or `in` for the block input)")
    if_: bool = Field(True, alias="if", description="false skips the layer: its id then names its input")
    training_only: bool = Field(
        False, description="used only in training (an auxiliary head): counts in parameters, "
                           "not in inference MACs")
    frozen: bool = Field(False, description="its parameters are not trained")


class Window(NamedTuple):  # a tuple, not a frozen dataclass: made per axis of every layer
    """How one output axis sees its input axis, for receptive fields.

    An output unit sees `kernel` input units spaced 1 apart; neighbouring outputs are `stride`
    inputs apart (a fraction for upsampling); the first output's window is centred at `offset`
    input units from the first input.
    """

    kernel: float
    stride: float
    offset: float


IDENTITY_WINDOW = Window(1, 1, 0.0)


def _none(a: Any, xs: tuple[Shape, ...]) -> dict[str, Shape]:
    return {}


def _zero(a: Any, xs: tuple[Shape, ...], y: Shape) -> int:
    return 0


def _pointwise(a: Any, xs: tuple[Shape, ...]) -> list[Window] | None:
    return None


def _no_attrs(a: Any, xs: tuple[Shape, ...], y: Shape) -> dict[str, Any]:
    return {}


def _no_label(a: Any, xs: tuple[Shape, ...], y: Shape) -> str:
    return ""


@dataclass(frozen=True)
class Init:
    """How a fresh model fills one parameter.

    `uniform`: PyTorch's default for weights and biases, U(-b, b) with b = 1/sqrt(fan_in) of
    the layer's weight; `constant`: every element is `value` (a norm's scale 1 and shift 0,
    LayerScale's 1e-6, ReZero's 0).
    """

    kind: Literal["uniform", "constant"] = "uniform"
    value: float = 0.0


UNIFORM = Init()


def _uniform(a: Any) -> dict[str, Init]:
    return {}


def affine_identity(a: Any) -> dict[str, Init]:
    """A norm's `weight` 1 and `bias` 0: the affine map starts as the identity (PyTorch's)."""
    return {"weight": Init("constant", 1.0), "bias": Init("constant", 0.0)}


@dataclass(frozen=True)
class Rule:
    """The compile-time meaning of one op.

    infer:     input shapes -> output shape (raises RuleError on bad input)
    params:    learnable parameter shapes, PyTorch layouts
    buffers:   non-learnable state (BatchNorm running statistics)
    macs:      multiply-accumulates for one sample, conventions in ARCHITECTURE.md
    receptive: one Window per spatial axis of the first input, or None for a pointwise op
    lower:     the kernel's attributes as plain values, resolved (runtime/plan.py)
    arity:     (fewest, most) inputs; None means no upper bound
    family:    groups ops for colours and legends in reports
    init:      how each parameter starts, by name; a name left out is `uniform`
    outputs:   names of the op's extra outputs besides its main one, each reached from other
               layers as `<layer id>.<name>` (max pooling's `indices`). An extra output has
               the main output's shape and holds int64 (indices), so it gets no gradient
    index_inputs: the input positions that take such an integer output (maxunpool's 1); an
               extra output may be read only there, and they read nothing else
    size_inputs: the input positions read only for their shape (crop's reference, the `like`
               of upsample and maxunpool): the compiler has it, so the kernel is not given
               the tensor (`lower` carries what it needs), and the read does not keep it alive
    label:     the key attributes in one short line for diagrams (cnnc/ops/labels.py); "" for
               none worth showing
    view:      whether the output shares the first input's storage: "always" (flatten),
               "inference" (dropout, the identity there) or "never"; buffer planning reads it
    sees:      whose receptive field the output starts from: the "first" input's, or the
               "widest" input's (a merge sees what its widest input sees)
    algorithm: how the kernel computes it, chosen from its lowered attributes, the weight and
               output shapes and the device (conv: im2col or Winograd); None for one way only
    aliases:   what other frameworks call the op (`conv2d`), for the unknown-op hint
    dropped:   input positions per spatial axis after the last window, which the op leaves
               out without a word (a pool in floor mode on an odd size); None where none can be
    onnx:      adds the op's ONNX nodes for `cnnc export` (cnnc/ops/onnx_forms.py says how);
               None for an op that cannot be exported
    """

    attrs: type[LayerAttrs]
    infer: Callable[[Any, tuple[Shape, ...]], Shape]
    family: str
    arity: tuple[int, int | None] = (1, 1)
    params: Callable[[Any, tuple[Shape, ...]], dict[str, Shape]] = _none
    buffers: Callable[[Any, tuple[Shape, ...]], dict[str, Shape]] = _none
    macs: Callable[[Any, tuple[Shape, ...], Shape], int] = _zero
    receptive: Callable[[Any, tuple[Shape, ...]], list[Window] | None] = _pointwise
    lower: Callable[[Any, tuple[Shape, ...], Shape], dict[str, Any]] = _no_attrs
    init: Callable[[Any], dict[str, Init]] = _uniform
    outputs: tuple[str, ...] = ()
    index_inputs: tuple[int, ...] = ()
    size_inputs: tuple[int, ...] = ()
    label: Callable[[Any, tuple[Shape, ...], Shape], str] = _no_label
    view: Literal["always", "inference", "never"] = "never"
    sees: Literal["first", "widest"] = "first"
    algorithm: Callable[[dict[str, Any], Shape, Shape, str], str] | None = None
    aliases: tuple[str, ...] = ()
    dropped: Callable[[Any, tuple[Shape, ...], Shape], tuple[int, ...]] | None = None
    onnx: Callable[[Any, tuple[Shape, ...], Shape, Any], None] | None = None


def same_shape(a: Any, xs: tuple[Shape, ...]) -> Shape:
    return xs[0]


def spatial(x: Shape, op: str) -> tuple[int, ...]:
    """The spatial sizes of a feature map `(C, *spatial)`; a vector has none and is refused."""
    if len(x) < 2:
        raise RuleError("shape", f"{op} needs a feature map (C, length...) but got a vector {fmt(x)}",
                        hint="windowed ops run on (C, L), (C, H, W) or (C, D, H, W) tensors")
    return x[1:]


def per_axis(value: int | list[int], n: int, name: str) -> tuple[int, ...]:
    """Expand an int to one value per spatial axis, or check a list has one per axis."""
    if isinstance(value, int):
        return (value,) * n
    if len(value) != n:
        raise RuleError("shape", f"`{name}` has {len(value)} values but the input has {n} "
                                 f"spatial {'axis' if n == 1 else 'axes'}",
                        hint=f"give one int, or a list of {n}", attr=name)
    return tuple(value)


def resolve_padding(padding: Any, sizes: tuple[int, ...], kernel: tuple[int, ...],
                    stride: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Padding as (before, after) per axis.

    `same` pads so that out = ceil(in / stride), the extra pixel after (PyTorch for stride 1,
    TensorFlow for any stride); `valid` means none.
    """
    n = len(sizes)
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        pads = []
        for size, k, s, d in zip(sizes, kernel, stride, dilation):
            total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    if isinstance(padding, int):
        return ((padding, padding),) * n
    if len(padding) != n:
        raise RuleError("shape", f"`padding` has {len(padding)} entries but the input has {n} "
                                 f"spatial {'axis' if n == 1 else 'axes'}",
                        hint=f"give one int, a list of {n} ints, or {n} [before, after] pairs",
                        attr="padding")
    pads = []
    for p in padding:
        if isinstance(p, int):
            pads.append((p, p))
        elif len(p) == 2:
            pads.append((p[0], p[1]))
        else:
            raise RuleError("type", f"a per-side padding is a [before, after] pair, got {p}",
                            attr="padding")
    return tuple(pads)


def window_out(size: int, kernel: int, stride: int, pad: tuple[int, int], dilation: int = 1,
               ceil_mode: bool = False) -> int:
    """Output length of a sliding window, PyTorch's rule.

    floor((in + pads - dilation*(k-1) - 1) / stride) + 1; ceil_mode rounds up but drops a last
    window that would start inside the right padding.
    """
    span = size + pad[0] + pad[1] - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1 if span >= 0 else 0
    out = -(-span // stride) + 1  # a window may overhang the end by less than a stride
    if (out - 1) * stride >= size + pad[0]:
        out -= 1
    return out


def check_window_fits(op: str, sizes: tuple[int, ...], outs: tuple[int, ...],
                      kernel: tuple[int, ...], pads: tuple[tuple[int, int], ...],
                      dilation: tuple[int, ...] | None = None) -> None:
    """Refuse an output that shrank below 1, saying from what input and which attribute."""
    if min(outs) >= 1:
        return
    dilation = dilation or (1,) * len(kernel)
    eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padded = tuple(s + b + a for s, (b, a) in zip(sizes, pads))
    raise RuleError(
        "size", f"{op} output would be {fmt(outs)}: the padded input {fmt(padded)} is smaller "
                f"than the {'dilated ' if max(dilation) > 1 else ''}window {fmt(eff)}",
        hint="use a smaller `kernel`, add `padding`, or remove a downsampling layer earlier",
        attr="kernel")


def conv_windows(kernel: tuple[int, ...], stride: tuple[int, ...],
                 pads: tuple[tuple[int, int], ...], dilation: tuple[int, ...]) -> list[Window]:
    windows = []
    for k, s, (before, _), d in zip(kernel, stride, pads, dilation):
        eff = d * (k - 1) + 1
        windows.append(Window(eff, s, (eff - 1) / 2 - before))
    return windows


def global_windows(sizes: tuple[int, ...]) -> list[Window]:
    """Every output unit sees the whole input along each axis."""
    return [Window(n, n, (n - 1) / 2) for n in sizes]


def fmt(shape: tuple[int, ...]) -> str:
    """A shape as users write it: 64x56x56."""
    return "x".join(str(d) for d in shape) if shape else "scalar"
