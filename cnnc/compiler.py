"""The compile pipeline: spec text -> expanded layers -> graph -> annotated graph -> `Compiled`."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any, Literal

import networkx as nx
from pydantic import ValidationError

from cnnc import collector
from cnnc.compiled import CompiledData, Totals
from cnnc.errors import CnncError, Diagnostic, SpecError
from cnnc.export import to_onnx
from cnnc.export.opsets import DEFAULT_OPSET
from cnnc.ir import keys
from cnnc.ir.build import build_graph, topological_order
from cnnc.ir.keys import node_table
from cnnc.ir.verify import verify
from cnnc.passes.input_sizes import (
    ExpandingProber,
    Prober,
    SizeReport,
    default_sizes,
    nearest_fits,
    scan,
    scan_axes,
    scan_command,
)
from cnnc.passes.lint import lint
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
        with collector.paused():
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

    def to_onnx(self, weights: Any = None, opset: int = DEFAULT_OPSET, fold_bn: bool = False,
                seed: int = 0, training_heads: bool = False) -> Any:
        """The ONNX model (an onnx.ModelProto; needs pip install 'cnnc[onnx]'), as `cnnc
        export` writes it. `weights`: tensors by cnnc name, a trained model's
        (`model.tensors()`) or a checkpoint's; None: a fresh initialisation under `seed`.
        `training_heads`: keep the training-only layers as extra outputs."""
        return to_onnx(self, weights, opset=opset, fold_bn=fold_bn, seed=seed,
                       training_heads=training_heads)

    def _repr_svg_(self) -> str | None:
        """The diagram in a notebook, at a readable depth and folded to a wide page; None
        where Graphviz is missing (the table shows instead)."""
        return self.diagram(size=NOTEBOOK_SIZE)._repr_svg_()

    def _repr_html_(self) -> str:
        """The diagram and the layer table in a notebook, as HTML (which Jupyter prefers)."""
        return render_html(self, self._repr_svg_())


def parse_spec(text: str, file: str, max_layers: int = MAX_LAYERS,
               input_shape: tuple[int, ...] | None = None) -> Network:
    """Load, validate and expand a spec for `input_shape` (default: the spec's `input`), which
    the shapes block bodies read (`$in.channels`) follow; raises CnncError with every problem
    of the first phase that fails."""
    shape = None if input_shape is None else _checked_input_shape(input_shape)
    data, source = load_yaml(text, file)
    if not isinstance(data, dict):
        raise SpecError([Diagnostic("type", "a spec is a mapping with `name`, `input` and "
                                            "`layers`", source.value(()))])
    try:
        doc = SpecDoc.model_validate(data)
    except ValidationError as e:
        raise SpecError(diagnose(e, SpecDoc, data, source, (), "the spec")) from None
    return expand(doc, source, max_layers, shape)


def checked_graph(net: Network) -> tuple[nx.DiGraph, list[str]]:
    """The graph of an expanded network and its topological order, references and arity
    verified; what every shape pass runs on."""
    g = build_graph(net)
    try:
        order = topological_order(g)
    except nx.NetworkXUnfeasible:
        order = None
    verify(g, net, order)
    return g, order


def input_shape_of(net: Network, given: Any = None) -> tuple[int, ...]:
    """The spec's input shape, or the one given (in Python or on the command line), checked."""
    return _checked_input_shape(given) if given is not None else net.input_shape


def compile_network(net: Network, file: str,
                    input_shape: tuple[int, ...] | None = None) -> Compiled:
    g, order = checked_graph(net)
    shape = input_shape_of(net, input_shape)
    fitting = functools.cache(lambda: nearest_fits(g, order, shape))  # on demand: shape passes

    def merge_note() -> str | None:
        if net.reads_shapes:  # its layers change with the size: this graph says nothing of others
            return None
        sizes = fitting()
        return sizes and f"this network fits inputs of {sizes}; {scan_command(file)} lists them"

    infer_shapes(g, net, order, shape, merge_note)
    count_params(g, order)
    count_macs(g, order)
    trace_receptive_fields(g, order)
    warnings = lint(g, net, order, fitting)
    memory = measure_memory(g, order, net.outputs)
    table = node_table(g)
    nodes = [table[n] for n in order[1:]]
    # most layers have no parameters or buffers: an empty mapping is not summed
    counts = [numel(p) if (p := d[keys.PARAMS]) else 0 for d in nodes]
    params = sum(counts)
    frozen = sum(n for n, d in zip(counts, nodes) if n and d[keys.LAYER].attrs.frozen)
    totals = Totals(
        params=params,
        trainable_params=params - frozen,
        buffers=sum(numel(b) for d in nodes if (b := d[keys.BUFFERS])),
        macs=sum(d[keys.MACS] for d in nodes if not d[keys.TRAINING_ONLY]),
        training_macs=sum(d[keys.MACS] for d in nodes),
        activation_bytes=memory.activation_bytes,
        peak_activation_bytes=memory.peak_bytes,
    )
    return Compiled(net.name, net.doc, file, shape, tuple(net.outputs), tuple(order), g, totals,
                    memory, warnings)


def scan_input_sizes(path: str | FsPath, sizes: range | None = None,
                     input_shape: tuple[int, ...] | None = None,
                     max_layers: int = MAX_LAYERS) -> SizeReport:
    """Which input sizes a spec takes (cnnc/passes/input_sizes.py): `sizes` on every spatial
    axis of a square input at once, else on each axis alone; default 1 to 4 times the given
    size. A spec that takes none of them fails as it does at its own size."""
    found = resolve_spec(str(path))
    file, text = str(found), read_spec(found)
    net = parse_spec(text, file, max_layers, input_shape)
    g, order = checked_graph(net)
    base = input_shape_of(net, input_shape)
    if len(base) < 2:
        raise CnncError([Diagnostic("input", f"'{net.name}' takes a vector ({base[0]} "
                                             "features): it has no spatial sizes to scan")])

    def graph_for(shape: tuple[int, ...]) -> tuple[nx.DiGraph, list[str]] | None:
        try:
            return checked_graph(parse_spec(text, file, max_layers, shape))
        except CnncError:
            return None

    # blocks that read their input's shape make other layers at other sizes: expand each again
    prober = ExpandingProber(graph_for) if net.reads_shapes else Prober(g, order)
    scans = tuple(scan(prober, base, axis, sizes or default_sizes(base, axis))
                  for axis in scan_axes(base))
    if not any(s.fits or s.drops for s in scans):
        compile_network(net, file, base)  # the error at the given size says why
    return SizeReport(net.name, base, prober.status(base), scans)


def _checked_input_shape(given: Any) -> tuple[int, ...]:
    """An input shape given in Python or on the command line, as ints; SpecError if it is not
    one."""
    try:
        shape = tuple(operator.index(d) for d in given if not isinstance(d, bool))
        ok = len(shape) == len(given) and 1 <= len(shape) <= 4
    except TypeError:
        shape, ok = (), False
    if not (ok and all(1 <= d <= MAX_INT for d in shape)):
        raise SpecError([Diagnostic(
            "type", f"the input shape {given} is not 1 to 4 sizes between 1 and {MAX_INT:,}",
            hint="give channels and sizes without the batch axis, e.g. (3, 32, 32)")])
    return shape


def compile_text(text: str, file: str = "<spec>", input_shape: tuple[int, ...] | None = None,
                 max_layers: int = MAX_LAYERS) -> Compiled:
    """Compile spec text; `max_layers` bounds the expanded network (blocks and repeats)."""
    with collector.paused():
        return compile_network(parse_spec(text, file, max_layers, input_shape), file,
                               input_shape)


def compile_file(path: str | FsPath, input_shape: tuple[int, ...] | None = None,
                 max_layers: int = MAX_LAYERS) -> Compiled:
    """Compile a spec file, or a zoo model by name (`resnet18`); raises CnncError on any mistake."""
    file = resolve_spec(str(path))
    return compile_text(read_spec(file), str(file), input_shape, max_layers)


__all__ = ["INPUT_ID", "CnncError", "Compiled", "Totals", "compile_file", "compile_text"]
