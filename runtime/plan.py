"""The contract between the compiler and the runtime: a Plan is plain data.

`cnnc/lower/` builds Plans from compiled graphs; `runtime/` executes them and never imports
`cnnc`. Shapes exclude the batch axis. Attribute dicts hold only plain Python values, already
resolved by the compiler (padding as (before, after) pairs per axis, `depthwise` as a group
count, output sizes of windowed ops), so kernels never re-derive shape rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Tensor:
    """A parameter or a piece of state (BatchNorm running statistics), named `<node id>.<name>`.

    init: how a fresh model fills it: `uniform` draws from U(-bound, bound) (PyTorch's default
    for weights and biases, bound = 1/sqrt(fan_in)); `constant` sets every element to `value`.
    """

    name: str
    shape: Shape
    init: str
    bound: float = 0.0
    trainable: bool = True
    value: float = 0.0


@dataclass(frozen=True)
class Fold:
    """Inference-time BatchNorm folding: `weight`/`bias` of a conv (or linear) followed by a BN
    become new tensors `into_weight`/`into_bias` so the BN disappears from the step list.

    w' = w * g / sqrt(v + eps) per output channel; b' = (b - m) * g / sqrt(v + eps) + beta,
    with b = 0 when the conv has no bias and g = 1, beta = 0 when the BN is not affine.
    """

    weight: str
    bias: str | None
    bn_weight: str | None
    bn_bias: str | None
    running_mean: str
    running_var: str
    eps: float
    into_weight: str
    into_bias: str


@dataclass(frozen=True)
class Transform:
    """An inference weight in the form its kernel computes with, made once per weight change
    like a Fold (after the folds, from a folded weight too): `winograd` is the F(4x4, 3x3)
    filter transform U (36, C, O) of the conv weight `weight` (runtime/kernels/winograd.py)."""

    kind: str
    weight: str
    into: str


@dataclass(frozen=True)
class Step:
    """One kernel call. `op` names a module in runtime/kernels; `inputs` are value names in port
    order; the output is the value named `id`. `params` maps the kernel's local names
    (`weight`, `bn.running_mean`, ...) to Tensor names. `nodes` are the graph nodes the step
    computes: one, or a fused chain whose last node is `id`.

    outputs: the extra outputs the step writes because a later step reads them (max pooling's
    `indices`), each the value `<id>.<name>`, of the step's shape, int64 and without gradient.
    The kernel gets them as `outputs=` and returns (output, *extras) in that order."""

    id: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict[str, Any]
    params: dict[str, str]
    nodes: tuple[str, ...]
    shape: Shape
    outputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schedule:
    """The steps of one mode, the values it returns, and their buffer lifetimes.

    frees[i]: values whose last reader is step i (never an output), dropped after it runs.
    views: values that share their input's storage (flatten, reshape, identity, a channel
    slice), so they cost no memory. Bytes are for one sample in float32 (extra outputs int64); a
    batch multiplies them.
    """

    steps: tuple[Step, ...]
    outputs: tuple[str, ...]
    frees: tuple[tuple[str, ...], ...]
    views: frozenset[str]
    naive_bytes: int
    peak_bytes: int
    peak_step: str


@dataclass(frozen=True)
class Plan:
    """A network ready to run: parameters and state in definition order, and one schedule per
    mode. Training runs `training` (auxiliary heads, BN batch statistics, fused conv+BN steps);
    evaluation runs `inference` (BN folded through `folds`, training-only layers dropped)."""

    name: str
    input_shape: Shape
    params: tuple[Tensor, ...]
    state: tuple[Tensor, ...]
    training: Schedule
    inference: Schedule
    folds: tuple[Fold, ...] = ()
    transforms: tuple[Transform, ...] = ()
    # Parameter and state names interleaved per node, as a PyTorch state dict lists them
    # (conv weight, BN weight, bias, running_mean, running_var, ...): the importer's order.
    tensor_order: tuple[str, ...] = ()
    shapes: dict[str, Shape] = field(default_factory=dict)

