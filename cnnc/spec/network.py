"""What expansion produces: layer instances with qualified ids, and the flat network they form."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnnc.errors import Diagnostic, Span
from cnnc.ops.base import LayerAttrs
from cnnc.spec.load import Path, SourceMap

INPUT_ID = "input"


@dataclass(frozen=True)
class CallSite:
    """Where a block instance was made: `stage3.1`, an instance of `bottleneck`, at a span."""

    block: str
    instance: str
    span: Span | None


@dataclass(slots=True)
class LayerInstance:
    """One layer after expansion; an input is a layer id, `input`, or `<layer id>.<name>` for
    an extra output of that layer (Rule.outputs)."""

    id: str
    attrs: LayerAttrs
    inputs: tuple[str, ...]
    path: Path                       # source path of the layer's mapping
    calls: tuple[CallSite, ...] = ()  # block instances it sits in, outermost first
    op: str = field(init=False)  # attrs.op, a field: every pass reads it on every node

    def __post_init__(self) -> None:
        self.op = self.attrs.op


@dataclass
class Network:
    """A spec after expansion: what `ir.build` turns into a graph."""

    name: str
    doc: str | None
    input_shape: tuple[int, ...]
    layers: list[LayerInstance]
    outputs: list[str]
    source: SourceMap
    reference_errors: list[Diagnostic] = field(default_factory=list)  # checked with the graph
    broken: set[str] = field(default_factory=set)  # layers with an unresolved input
    reads_shapes: bool = False  # an expression read a shape (`$in.channels`): the layers
                                # depend on the input's shape
    # the shapes that reading them computed, for `input_shape`; the shape pass takes them as
    # they are instead of asking each rule again (densenet201: three quarters of its layers)
    known_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def qualify(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def call_notes(calls: tuple[CallSite, ...]) -> tuple[tuple[Span | None, str], ...]:
    return tuple((site.span, f"in '{site.instance}', an instance of block `{site.block}`")
                 for site in reversed(calls))
