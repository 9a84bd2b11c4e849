"""Graphviz DOT text of the network: deterministic, in topological order.

Each layer is a node with its id, op, key attributes, output shape and parameter count, filled by
op family; merges are ellipses; block instances are clusters (or, from `depth` on, single nodes
with their totals, see cnnc/report/diagram.py); each edge is labelled with the shape it carries.
A title gives the model's name, totals and a legend. Inside a cluster a layer shows its id
relative to the cluster's instance path (`conv1` in `layer1.0`); DOT node names stay qualified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnc.ir import keys
from cnnc.ops import RULES
from cnnc.passes.params import numel
from cnnc.report.diagram import Diagram, Instance, instance_output, plan_diagram
from cnnc.report.labels import (
    BLOCK_FILL,
    CLUSTER_FILLS,
    FAINT,
    FILLS,
    INK,
    cluster_label,
    figures,
    instance_label,
    layer_label,
    legend_label,
    title_label,
)
from cnnc.report.summary import shape_text, summarize
from cnnc.report.units import si
from cnnc.spec.expand import INPUT_ID

if TYPE_CHECKING:
    from cnnc.compiler import Compiled

RANKDIRS = ("TB", "LR", "BT", "RL")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(c: Compiled, depth: int | None = None, rankdir: str = "TB") -> str:
    """The DOT text of `c`; `depth` collapses block instances (None: draw every layer)."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir is one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    d = plan_diagram(c, depth)
    # nodesep 0.5 keeps skip edges clear of the cluster borders they pass
    graph = (f"rankdir={rankdir}, newrank=true, nodesep=0.5, ranksep=0.35, "
             f'fontname="Helvetica", fontsize=11, fontcolor="{INK}", labelloc=t')
    node = (f'shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
            f'fontcolor="{INK}", color="{INK}", penwidth=0.8, margin="0.1,0.04"')
    edge = (f'fontname="Helvetica", fontsize=8, fontcolor="{FAINT}", color="{FAINT}", '
            f"arrowsize=0.6, penwidth=0.8")
    source = (f"label={layer_label(INPUT_ID, '', '', shape_text(c.input_shape))}, "
              f'style="rounded,filled,bold", fillcolor="#ffffff"{_group(d, INPUT_ID)}')
    lines = [f"digraph {_quote(c.name)} {{",
             f"  graph [{graph}, label={_title(c)}];",
             f"  node [{node}];",
             f"  edge [{edge}];",
             f"  {_quote(INPUT_ID)} [{source}];",
             *_legend(c, d)]
    _members(c, d, d.root, lines, "  ")
    for e in d.edges:
        lines.append(f"  {_quote(e.tail)} -> {_quote(e.head)} "
                     f"[label={_quote(shape_text(c.node(e.producer)[keys.SHAPE]))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _members(c: Compiled, d: Diagram, where: Instance, lines: list[str], indent: str,
             level: int = 0) -> None:
    """The nodes and clusters drawn directly inside `where`, in topological order."""
    fill = CLUSTER_FILLS[min(level, len(CLUSTER_FILLS) - 1)]
    for m in where.members:
        if isinstance(m, str):
            lines.append(f"{indent}{_quote(m)} [{_layer_attrs(c, m, where.path)}{_group(d, m)}];")
        elif m.collapsed:
            attrs = _instance_attrs(c, d, m)
            lines.append(f"{indent}{_quote(m.path)} [{attrs}{_group(d, m.path)}];")
        else:
            params = sum(numel(c.node(n)[keys.PARAMS]) for n in m.layers)
            style = (f'labeljust=l, style="rounded,filled", fillcolor="{fill}", '
                     f'color="#999999", penwidth=0.8, fontsize=10')
            lines.append(f"{indent}subgraph {_quote('cluster_' + m.path)} {{")
            lines.append(f"{indent}  graph [label={cluster_label(m.path, m.block, params)}, "
                         f"{style}];")
            _members(c, d, m, lines, indent + "  ", level + 1)
            lines.append(f"{indent}}}")


def _group(d: Diagram, node: str) -> str:
    return ", group=spine" if node in d.spine else ""


def _layer_attrs(c: Compiled, node: str, cluster: str) -> str:
    data = c.node(node)
    layer = data[keys.LAYER]
    name = node[len(cluster) + 1:] if cluster else node
    inputs = tuple(c.node(i)[keys.SHAPE] for i in layer.inputs)
    line = figures(shape_text(data[keys.SHAPE]), numel(data[keys.PARAMS]),
                   frozen=layer.attrs.frozen)
    label = layer_label(name, layer.op, summarize(layer.attrs, inputs, data[keys.SHAPE]), line)
    family = RULES[layer.op].family
    attrs = f'label={label}, fillcolor="{FILLS[family]}"'
    if family == "merge":
        attrs += ", shape=ellipse"
    if data[keys.TRAINING_ONLY]:
        attrs += ', style="rounded,filled,dashed"'
    return attrs


def _instance_attrs(c: Compiled, d: Diagram, box: Instance) -> str:
    nodes = [c.node(n) for n in box.layers]
    output = instance_output(c, box, d.owner)
    line = figures(shape_text(c.node(output)[keys.SHAPE]),
                   sum(numel(n[keys.PARAMS]) for n in nodes),
                   sum(n[keys.MACS] for n in nodes if not n[keys.TRAINING_ONLY]))
    label = instance_label(box.path, box.block, len(box.layers), line)
    style = "filled,dashed" if all(n[keys.TRAINING_ONLY] for n in nodes) else "filled"
    return (f'label={label}, shape=box3d, style="{style}", fillcolor="{BLOCK_FILL}", '
            f'margin="0.14,0.1"')


def _title(c: Compiled) -> str:
    t = c.totals
    outputs = ", ".join(shape_text(c.node(o)[keys.SHAPE]) for o in c.outputs)
    totals = (f"{shape_text(c.input_shape)} → {outputs} · {si(t.params)} params · "
              f"{si(t.macs)} MACs")
    return title_label(c.name, totals)


def _legend(c: Compiled, d: Diagram) -> list[str]:
    """The legend, a node of its own just above the input (inside the title, Graphviz would
    stretch the swatches to the title's width)."""
    drawn = [n for n, owner in d.owner.items() if owner == n and n != INPUT_ID]
    used = {RULES[c.node(n)[keys.LAYER].op].family for n in drawn}
    families = [f for f in FILLS if f in used]
    collapsed = len(drawn) < len(c.layers)
    training_only = any(c.node(n)[keys.TRAINING_ONLY] for n in c.layers)
    label = legend_label(families, collapsed, training_only)
    return [f'  "#legend" [label={label}, shape=plain, style=solid];',
            f'  "#legend" -> {_quote(INPUT_ID)} [style=invis];  /* keeps it above the input */']
