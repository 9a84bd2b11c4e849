"""The compile pipeline: spec text -> expanded layers -> graph -> annotated graph -> `Compiled`."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any, Literal

import networkx as nx
from pydantic import ValidationError

from cnnc.compiled import CompiledData, Totals
from cnnc.errors import CnncError, Diagnostic, SpecError
from cnnc.ir import keys
from cnnc.ir.build import build_graph, topological_order
from cnnc.ir.verify import verify
from cnnc.passes.macs import count_macs
from cnnc.passes.memory import measure_memory
from cnnc.passes.params import count_params, numel
from cnnc.passes.receptive_field import trace_receptive_fields
from cnnc.passes.shapes import infer_shapes
from cnnc.report.drawing import NOTEBOOK_SIZE, Drawing, readable_depth
from cnnc.report.html import render_html
from cnnc.report.json import to_json
from cnnc.report.table import render_table
from cnnc.spec.diagnose import diagnose
from cnnc.spec.expand import INPUT_ID, Network, expand
from cnnc.spec.limits import MAX_INT, MAX_LAYERS
from cnnc.spec.load import load_yaml, read_spec
from cnnc.spec.schema import SpecDoc
from cnnc.zoo import resolve_spec


@dataclass(frozen=True)
class Compiled(CompiledData):
    """A compiled network (cnnc/compiled.py) with its reports: table, JSON, diagram."""

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    def table(self) -> str:
        return render_table(self)

    def to_dot(self, depth: int | None = None, rankdir: str = "TB", *, size: str | None = None,
               fold: int | None = None, font: str = "Helvetica", fontsize: float = 10) -> str:
        """Graphviz DOT text, the same as `cnnc compile --format dot`; the options are those
        of `diagram`, except that `depth` defaults to every layer."""
        return Drawing(self, depth, rankdir, size, fold, None, font, fontsize).dot

    def diagram(self, depth: int | None | Literal["auto"] = "auto", rankdir: str = "TB", *,
                size: str | None = None, fold: int | None = None, dpi: float | None = None,
                font: str = "Helvetica", fontsize: float = 10) -> Drawing:
        """The diagram, to show in a notebook or `.save("net.svg")` (.png, .pdf, .dot).
        `depth` collapses block instances nested that deep into single nodes (None: every
        layer; "auto": the most detail that stays readable, see cnnc/report/drawing.py);
        `rankdir` is TB or LR; `size` a page to fit (`10x7.5in`, `25x19cm`) or an aspect
        (`16:9`) that a deep network is folded to, in columns (TB) or rows (LR); `fold` that
        many columns or rows instead; `dpi` a PNG's resolution; `font` and `fontsize` those of
        the layers' text (the rest keeps its proportions). Raises ValueError for a bad option."""
        chosen = readable_depth(self) if depth == "auto" else depth
        return Drawing(self, chosen, rankdir, size, fold, dpi, font, fontsize)

    def _repr_svg_(self) -> str | None:
        """The diagram in a notebook, at a readable depth and folded to a wide page; None
        where Graphviz is missing (the table shows instead)."""
        return self.diagram(size=NOTEBOOK_SIZE)._repr_svg_()

    def _repr_html_(self) -> str:
        """The diagram and the layer table in a notebook, as HTML (which Jupyter prefers)."""
        return render_html(self, self._repr_svg_())


def parse_spec(text: str, file: str, max_layers: int = MAX_LAYERS) -> Network:
    """Load, validate and expand a spec; raises CnncError with every problem of the first phase
    that fails."""
    data, source = load_yaml(text, file)
    if not isinstance(data, dict):
        raise SpecError([Diagnostic("type", "a spec is a mapping with `name`, `input` and "
                                            "`layers`", source.value(()))])
    try:
        doc = SpecDoc.model_validate(data)
    except ValidationError as e:
        raise SpecError(diagnose(e, SpecDoc, data, source, (), "the spec")) from None
    return expand(doc, source, max_layers)


def compile_network(net: Network, file: str,
                    input_shape: tuple[int, ...] | None = None) -> Compiled:
    g = build_graph(net)
    try:
        order = topological_order(g)
    except nx.NetworkXUnfeasible:
        order = None
    verify(g, net, order)
    shape = _input_shape(input_shape) if input_shape is not None else net.input_shape
    if shape is None:
        raise SpecError([Diagnostic("type", f"the input shape {input_shape} is not 1 to 4 sizes between "
                                            f"1 and {MAX_INT:,}",
                                    hint="give channels and sizes without the batch axis, e.g. "
                                         "(3, 32, 32)")])
    infer_shapes(g, net, order, shape)
    count_params(g, order)
    count_macs(g, order)
    trace_receptive_fields(g, order)
    memory = measure_memory(g, order, net.outputs)
    nodes = [g.nodes[n] for n in order[1:]]
    params = sum(numel(d[keys.PARAMS]) for d in nodes)
    frozen = sum(numel(d[keys.PARAMS]) for d in nodes if d[keys.LAYER].attrs.frozen)
    totals = Totals(
        params=params,
        trainable_params=params - frozen,
        buffers=sum(numel(d[keys.BUFFERS]) for d in nodes),
        macs=sum(d[keys.MACS] for d in nodes if not d[keys.TRAINING_ONLY]),
        training_macs=sum(d[keys.MACS] for d in nodes),
        activation_bytes=memory.activation_bytes,
        peak_activation_bytes=memory.peak_bytes,
    )
    return Compiled(net.name, net.doc, file, shape, tuple(net.outputs), tuple(order), g, totals,
                    memory)


def _input_shape(given: Any) -> tuple[int, ...] | None:
    """An input shape given in Python or on the command line, as ints; None if it is not one."""
    try:
        shape = tuple(operator.index(d) for d in given if not isinstance(d, bool))
    except TypeError:
        return None
    ok = len(shape) == len(given) and 1 <= len(shape) <= 4 and all(1 <= d <= MAX_INT for d in shape)
    return shape if ok else None


def compile_text(text: str, file: str = "<spec>", input_shape: tuple[int, ...] | None = None,
                 max_layers: int = MAX_LAYERS) -> Compiled:
    """Compile spec text; `max_layers` bounds the expanded network (blocks and repeats)."""
    return compile_network(parse_spec(text, file, max_layers), file, input_shape)


def compile_file(path: str | FsPath, input_shape: tuple[int, ...] | None = None,
                 max_layers: int = MAX_LAYERS) -> Compiled:
    """Compile a spec file, or a zoo model by name (`resnet18`); raises CnncError on any mistake."""
    file = resolve_spec(str(path))
    return compile_text(read_spec(file), str(file), input_shape, max_layers)


__all__ = ["INPUT_ID", "CnncError", "Compiled", "Totals", "compile_file", "compile_text"]
