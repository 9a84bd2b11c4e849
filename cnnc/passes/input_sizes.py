"""Which input sizes a network takes: the shape rules run over a range of sizes on one graph.

A size *fits* when every shape rule accepts it and no pool leaves input rows or columns out
(floor mode on an odd size); it *drops* when the shapes work but a pool leaves some out (a
warning, cnnc/passes/lint.py); it *fails* when a shape rule refuses it. U-Net's valid convs
and pools fit one size in 16; a concat after pooling an odd size fails every other one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Literal

import networkx as nx

from cnnc.errors import RuleError
from cnnc.ir import keys
from cnnc.ir.build import split_value
from cnnc.ops import RULES
from cnnc.ops.base import Shape, fmt
from cnnc.spec.expand import INPUT_ID
from cnnc.zoo import zoo_dir

Status = Literal["fits", "drops", "fails"]
MAX_SIZES = 10_000  # sizes one scan may try: about 10 s for densenet201 (700 layers)
HINT_WINDOW = 128   # a hint looks this far below and above the given size


class Prober:
    """Tells whether an input shape fits, drops or fails on one graph, quickly.

    Runs only the shape rules, stops at the first refusal, and remembers each layer's answer
    per input shapes: after a few strided layers, neighbouring input sizes meet in the same
    shapes, and the deep layers are not asked again.
    """

    def __init__(self, g: nx.DiGraph, order: list[str]):
        assert order[0] == INPUT_ID
        index = {node: i for i, node in enumerate(order)}
        self._layers = []
        for node in order[1:]:
            layer = g.nodes[node][keys.LAYER]
            rule = RULES[layer.op]
            # an extra output (indices) has its layer's shape: Rule.outputs
            inputs = tuple(index[p if p in index else split_value(g, p)[0]] for p in layer.inputs)
            self._layers.append((inputs, layer.attrs, rule.infer, rule.dropped, {}))

    def status(self, shape: Shape) -> Status:
        shapes: list[Shape] = [shape]
        drops = False
        for inputs, attrs, infer, dropped, seen in self._layers:
            xs = tuple(shapes[i] for i in inputs)
            answer = seen.get(xs)
            if answer is None:
                try:
                    y = infer(attrs, xs)
                    answer = (y, dropped is not None and any(dropped(attrs, xs, y)))
                except RuleError:
                    answer = ()
                seen[xs] = answer
            if not answer:
                return "fails"
            shapes.append(answer[0])
            drops = drops or answer[1]
        return "drops" if drops else "fits"


class ExpandingProber:
    """A Prober for a spec whose layers depend on the input's shape (`$in.channels`): each size
    is expanded anew (`graph_for`: None where that fails), so a scan costs a compile a size."""

    def __init__(self, graph_for: Callable[[Shape], tuple[nx.DiGraph, list[str]] | None]):
        self._graph_for = graph_for

    @functools.cache  # noqa: B019 (one prober per scan; a shape is asked again for the summary)
    def status(self, shape: Shape) -> Status:
        graph = self._graph_for(shape)
        return "fails" if graph is None else Prober(*graph).status(shape)


def with_size(base: Shape, axis: int | None, size: int) -> Shape:
    """`base` with one spatial axis (None: every spatial axis) set to `size`."""
    return tuple(size if i > 0 and axis in (None, i) else d for i, d in enumerate(base))


def scan_axes(base: Shape) -> list[int | None]:
    """What `--input-sizes` varies: every spatial axis at once for a square input (or a 1D
    one), else each axis on its own with the others at their given sizes."""
    if len(base) < 2:
        return []
    return [None] if len(set(base[1:])) == 1 else list(range(1, len(base)))


def default_sizes(base: Shape, axis: int | None) -> range:
    """1 to 4 times the given size, at most MAX_SIZES of them (the largest kept)."""
    last = 4 * base[axis or 1]
    return range(max(1, last - MAX_SIZES + 1), last + 1)


@dataclass(frozen=True)
class AxisScan:
    """The status of every size in `sizes` on `axis` (None: every spatial axis together)."""

    base: Shape
    axis: int | None
    sizes: range
    fits: tuple[int, ...]
    drops: tuple[int, ...]
    fails: tuple[int, ...]

    def status(self, size: int) -> Status:
        return ("fits" if size in self.fits else "drops" if size in self.drops else "fails")


@dataclass(frozen=True)
class SizeReport:
    """What `cnnc compile SPEC --input-sizes` prints: the scans and the given shape's status."""

    name: str
    base: Shape
    base_status: Status
    scans: tuple[AxisScan, ...]


def scan(prober: Prober, base: Shape, axis: int | None, sizes: range) -> AxisScan:
    found: dict[Status, list[int]] = {"fits": [], "drops": [], "fails": []}
    for size in sizes:
        found[prober.status(with_size(base, axis, size))].append(size)
    return AxisScan(base, axis, sizes, *(tuple(found[s]) for s in ("fits", "drops", "fails")))


def nearest_fits(g: nx.DiGraph, order: list[str], shape: Shape) -> str | None:
    """`568x568 or 584x584 (every 16)`: the nearest input sizes below and above `shape` that
    fit, each looked for within HINT_WINDOW of its spatial sizes; None when none does (or
    `shape` has no spatial axes). Looks outwards from the given size and stops at the first
    fit, so a hint costs a few dozen shape passes, not a scan."""
    if len(shape) < 2:
        return None
    prober = Prober(g, order)
    square = functools.cache(lambda n: prober.status(with_size(shape, None, n)) == "fits")

    def first_fit(sizes: range) -> int | None:
        return next((n for n in sizes if square(n)), None)

    def below(d: int) -> int | None:
        return first_fit(range(d, max(0, d - HINT_WINDOW - 1), -1))

    def above(d: int) -> int | None:
        return first_fit(range(d, d + HINT_WINDOW + 1))

    # Each spatial axis moves to the nearest size that fits a square input; for a network that
    # treats its axes alike (most do) the result fits, and it is checked, so one that does not
    # gets no wrong advice.
    found = []
    for nearest in (below, above):
        sizes = [nearest(d) for d in shape[1:]]
        picked = (shape[0], *sizes)
        if None not in sizes and picked != shape and prober.status(picked) == "fits":
            found.append(fmt(picked[1:]))
    if not found:
        return None
    return " or ".join(dict.fromkeys(found)) + _period(shape, below, above)


def _period(shape: Shape, below: Callable[[int], int | None],
            above: Callable[[int], int | None]) -> str:
    """` (every 16)` when the fits around the first axis that does not fit are three in a row
    an equal step (above 1) apart, else nothing."""
    d = next((d for d in shape[1:] if below(d) != d), None)
    lo, hi = (below(d), above(d)) if d is not None else (None, None)
    after = above(hi + 1) if hi is not None else None
    if lo is None or after is None or hi - lo != after - hi or hi - lo < 2:
        return ""
    return f" (every {hi - lo})"


def scan_command(file: str) -> str:
    """The command that lists the sizes that fit, for hints: a zoo spec by its name."""
    path = FsPath(file)
    spec = ("SPEC" if file.startswith("<") else
            path.stem if path.parent.resolve() == zoo_dir() else file)
    return f"`cnnc compile {spec} --input-sizes`"
