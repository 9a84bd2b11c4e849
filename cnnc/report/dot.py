"""Graphviz DOT text of the network: deterministic, in topological order.

Each layer is a node with its id, op, key attributes, output shape and parameter count, filled by
op family; merges are ellipses; block instances are clusters (or, from `depth` on, single nodes
with their totals, see cnnc/report/diagram.py); each edge is labelled with the shape it carries.
A title gives the model's name, totals and a legend. Inside a cluster a layer shows its id
relative to the cluster's instance path (`conv1` in `layer1.0`); DOT node names stay qualified.
A long network can be folded into columns or rows (which nodes go in which fold is decided in
cnnc/report/layout.py; how the folds are told to Graphviz, here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cnnc.ir import keys
from cnnc.ir.build import split_value, value_shape
from cnnc.ops import RULES
from cnnc.passes.params import numel
from cnnc.report.diagram import Diagram, Edge, Instance, instance_output, plan_diagram
from cnnc.report.labels import (
    BLOCK_FILL,
    CLUSTER_FILLS,
    DEFAULT_FONT,
    FAINT,
    FILLS,
    INK,
    Font,
    cluster_label,
    figures,
    instance_label,
    layer_label,
    legend_label,
    title_label,
)
from cnnc.report.layout import (
    NODESEP,
    RANKSEP,
    Boxes,
    Page,
    fold_diagram,
    label_box,
    levels,
    parse_size,
    text_box,
)
from cnnc.report.summary import shape_text, summarize
from cnnc.report.units import si
from cnnc.spec.expand import INPUT_ID

if TYPE_CHECKING:
    from cnnc.compiled import CompiledData

RANKDIRS = ("TB", "LR", "BT", "RL")


@dataclass(frozen=True)
class Picture:
    """A diagram laid out for Graphviz: what its DOT text is made from."""

    c: CompiledData
    d: Diagram
    rankdir: str
    page: Page | None
    font: Font
    title: str                 # the title's label
    legend: str                # the legend's label
    attrs: dict[str, str]      # drawn node -> its DOT attributes, label first
    labels: dict[Edge, str]    # edge -> its label, the shape it carries
    level: dict[str, int]      # drawn node -> its level (cnnc/report/layout.py)
    segment: dict[str, int]    # drawn node -> the fold (column or row) it is drawn in

    @property
    def folds(self) -> int:
        return max(self.segment.values()) + 1

    @property
    def flipped(self) -> bool:  # declared in reverse order (see _members)
        return self.rankdir in ("LR", "RL")

    def dot(self) -> str:
        """The DOT text."""
        c, d, font, page = self.c, self.d, self.font, self.page
        # nodesep keeps skip edges clear of the cluster borders they pass
        graph = (f"rankdir={self.rankdir}, newrank=true, nodesep={NODESEP}, "
                 f'ranksep={RANKSEP}, fontname={_quote(font.name)}, fontsize={font.pt(11)}, fontcolor="{INK}", '
                 "labelloc=t")
        if page and page.inches:  # "!": scaled up as well as down, to fill the page
            graph += f', size="{page.inches[0]:g},{page.inches[1]:g}!"'
        node = (f'shape=box, style="rounded,filled", fontname={_quote(font.name)}, '
                f'fontsize={font.pt(10)}, fontcolor="{INK}", color="{INK}", penwidth=0.8, '
                'margin="0.1,0.04"')
        edge = (f'fontname={_quote(font.name)}, fontsize={font.pt(8)}, fontcolor="{FAINT}", '
                f'color="{FAINT}", arrowsize=0.6, penwidth=0.8')
        lines = [f"digraph {_quote(c.name)} {{",
                 f"  graph [{graph}, label={self.title}];",
                 f"  node [{node}];",
                 f"  edge [{edge}];"]
        if self.folds > 1:
            lines.append(_legend(self.legend)[0])  # held above the input by _folds
            lines += _folds(self)
        else:
            lines.append(f"  {_quote(INPUT_ID)} [{self.attrs[INPUT_ID]}];")
            lines += _legend(self.legend)
            _members(self, d.root, lines, "  ")
        lines += [_edge(self, e, down) for e, down in _downs(self).items()]
        lines.append("}")
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plan_picture(c: CompiledData, depth: int | None = None, rankdir: str = "TB", *,
                 size: str | None = None, fold: int | None = None,
                 font: Font = DEFAULT_FONT) -> Picture:
    """The diagram of `c` laid out; `depth` collapses block instances (None: draw every
    layer). `size` is a page (`10x7.5in`) the picture is scaled to fit, or an aspect (`16:9`);
    the network is folded into as many columns (TB) or rows (LR) as bring it to about that
    aspect, or into `fold` of them (cnnc/report/layout.py). Raises ValueError for a bad
    rankdir or size."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir is one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    page = parse_size(size) if size is not None else None
    d = plan_diagram(c, depth)
    attrs = _node_attrs(c, d, font)
    labels = {e: edge_label(c, e.producer) for e in d.edges}
    title = _title(c, font)
    legend = _legend_label(c, d, font)
    boxes = Boxes({n: label_box(a, font) for n, a in attrs.items()},
                  {e: text_box([(text, font.size * 0.8)]) for e, text in labels.items()},
                  label_box(title, font), label_box(legend, font), text_box([("", font.size)]))
    level = levels(d)
    segment = fold_diagram(d, level, boxes, rankdir, page.aspect if page else None, fold)
    return Picture(c, d, rankdir, page, font, title, legend, attrs, labels, level, segment)


def edge_label(c: CompiledData, value: str) -> str:
    """The shape an edge carries, after the output's name when it is an extra one
    (`indices 64x28x28`)."""
    output = split_value(c.graph, value)[1]
    return (f"{output} " if output else "") + shape_text(value_shape(c.graph.nodes, value))


def _edge(p: Picture, e: Edge, down: float) -> str:
    """An edge statement; in a folded picture it runs the way its fold does (`down` says how
    far), against its direction with dir=back where that is up. An edge past the next fold is
    left out of the ranking, as ranked it can trip Graphviz ("trouble in init_rank")."""
    label = f"label={_quote(p.labels[e])}"
    tail, head = _quote(e.tail), _quote(e.head)
    far = abs(p.segment[e.head] - p.segment[e.tail]) > 1
    if p.folds > 1 and (down == 0 or far):
        return f"  {tail} -> {head} [{label}, constraint=false];"
    if p.folds > 1 and down < 0:
        return f"  {head} -> {tail} [{label}, dir=back];"
    return f"  {tail} -> {head} [{label}];"


def _folds(p: Picture) -> list[str]:
    """The folds, side by side. Every other fold runs backwards (its edges reversed in the DOT
    text and drawn with dir=back), so each starts where the one before ended: a chain snakes
    down and up, and a U-Net folded in two is a U. Rows of invisible nodes above and below
    hold the folds' ends on two ranks, so that they line up and each step from one fold to the
    next is short, and set the folds in order (Graphviz keeps the order of plain nodes on a
    rank); the legend heads the first fold. Measured on the zoo with Graphviz 2.43: clusters
    around the folds, rank=same across clusters and weights above 100 each made Graphviz fail
    ("trouble in init_rank") on some networks, so the folds have none of them and the edges
    that hold their ends weigh 100."""
    lines, heads, feet = [], [], []
    for s in range(max(p.segment.values()) + 1):
        if s == 0:
            lines.append(f"  {_quote(INPUT_ID)} [{p.attrs[INPUT_ID]}];")
        _members(p, p.d.root, lines, "  ", s=s)
        spine = [_quote(n) for n in sorted((n for n in p.d.spine if p.segment[n] == s),
                                           key=p.level.get)]
        top, bottom = (spine[-1], spine[0]) if s % 2 else (spine[0], spine[-1])
        heads.append(_quote(f"#head{s}") if s else '"#legend"')
        feet.append(_quote(f"#foot{s}"))
        helpers = heads[-1:] + feet[-1:] if s else feet[-1:]
        lines += [f'  {h} [label="", shape=point, style=invis, width=0];' for h in helpers]
        lines += [f"  {heads[-1]} -> {top} [style=invis, weight=100];",
                  f"  {bottom} -> {feet[-1]} [style=invis, weight=100];"]
    for row in heads, feet:
        lines.append(f"  {{rank=same; {' -> '.join(row)} [style=invis];}}")
    return lines


def _downs(p: Picture) -> dict[Edge, float]:
    """How far down each edge goes: its head's depth in its fold less its tail's, a depth
    running from 0 at the top of a fold to 1 at the bottom (the folds' ends line up, and every
    other fold runs backwards). Ranked by this one measure, edges never ask Graphviz for
    ranks that contradict each other."""
    first, last = {}, {}
    for node, s in p.segment.items():
        first[s] = min(first.get(s, p.level[node]), p.level[node])
        last[s] = max(last.get(s, p.level[node]), p.level[node])

    def depth(node: str) -> float:
        s, at = p.segment[node], p.level[node]
        return (last[s] - at if s % 2 else at - first[s]) / max(last[s] - first[s], 1)
    return {e: depth(e.head) - depth(e.tail) for e in p.d.edges}


def _node_attrs(c: CompiledData, d: Diagram, font: Font) -> dict[str, str]:
    """Each drawn node's DOT attributes, the label first; a layer inside a cluster shows its
    id relative to the cluster's instance path."""
    attrs = {INPUT_ID: f"label={layer_label(INPUT_ID, '', '', shape_text(c.input_shape), font)}, "
                       f'style="rounded,filled,bold", fillcolor="#ffffff"'}

    def walk(where: Instance) -> None:
        for m in where.members:
            if isinstance(m, str):
                attrs[m] = _layer_attrs(c, m, where.path, font)
            elif m.collapsed:
                attrs[m.path] = _instance_attrs(c, d, m, font)
            else:
                walk(m)
    walk(d.root)
    return {n: a + (", group=spine" if n in d.spine else "") for n, a in attrs.items()}


def _members(p: Picture, where: Instance, lines: list[str], indent: str, level: int = 0,
             s: int | None = None) -> None:
    """The nodes and clusters drawn directly inside `where` (in fold `s` only, when given).
    Graphviz draws LR as TB with x and y swapped, a mirror image: U-Net's skips would run
    below its spine and the U hang upside down. Declared in reverse order, Graphviz's first
    guess at each rank's order (which it keeps when no crossing is saved) is mirrored back, so
    LR is TB turned a quarter left."""
    fill = CLUSTER_FILLS[min(level, len(CLUSTER_FILLS) - 1)]
    for m in reversed(where.members) if p.flipped else where.members:
        if isinstance(m, str) or m.collapsed:
            node = m if isinstance(m, str) else m.path
            if s is None or p.segment[node] == s:
                lines.append(f"{indent}{_quote(node)} [{p.attrs[node]}];")
            continue
        folds = sorted({p.segment[p.d.owner[n]] for n in m.layers})
        if s is not None and s not in folds:
            continue
        params = sum(numel(p.c.node(n)[keys.PARAMS]) for n in m.layers)
        style = (f'labeljust=l, style="rounded,filled", fillcolor="{fill}", '
                 f'color="#999999", penwidth=0.8, fontsize={p.font.pt(10)}')
        name = "cluster_" + m.path + (f"#{s}" if s is not None and s != folds[0] else "")
        lines.append(f"{indent}subgraph {_quote(name)} {{")
        lines.append(f"{indent}  graph [label={cluster_label(m.path, m.block, params, p.font)}, "
                     f"{style}];")
        _members(p, m, lines, indent + "  ", level + 1, s)
        lines.append(f"{indent}}}")


def _layer_attrs(c: CompiledData, node: str, cluster: str, font: Font) -> str:
    data = c.node(node)
    layer = data[keys.LAYER]
    name = node[len(cluster) + 1:] if cluster else node
    line = figures(shape_text(data[keys.SHAPE]), numel(data[keys.PARAMS]),
                   frozen=layer.attrs.frozen)
    label = layer_label(name, layer.op, summarize(layer.attrs, data[keys.INPUT_SHAPES], data[keys.SHAPE]), line,
                        font)
    family = RULES[layer.op].family
    attrs = f'label={label}, fillcolor="{FILLS[family]}"'
    if family == "merge":
        attrs += ", shape=ellipse"
    if data[keys.TRAINING_ONLY]:
        attrs += ', style="rounded,filled,dashed"'
    return attrs


def _instance_attrs(c: CompiledData, d: Diagram, box: Instance, font: Font) -> str:
    nodes = [c.node(n) for n in box.layers]
    output = instance_output(c, box, d.owner)
    line = figures(shape_text(c.node(output)[keys.SHAPE]),
                   sum(numel(n[keys.PARAMS]) for n in nodes),
                   sum(n[keys.MACS] for n in nodes if not n[keys.TRAINING_ONLY]))
    label = instance_label(box.path, box.block, len(box.layers), line, font)
    style = "filled,dashed" if all(n[keys.TRAINING_ONLY] for n in nodes) else "filled"
    return (f'label={label}, shape=box3d, style="{style}", fillcolor="{BLOCK_FILL}", '
            f'margin="0.14,0.1"')


def _title(c: CompiledData, font: Font) -> str:
    t = c.totals
    outputs = ", ".join(shape_text(c.node(o)[keys.SHAPE]) for o in c.outputs)
    totals = (f"{shape_text(c.input_shape)} → {outputs} · {si(t.params)} params · "
              f"{si(t.macs)} MACs")
    return title_label(c.name, totals, font)


def _legend_label(c: CompiledData, d: Diagram, font: Font) -> str:
    """The legend of the families (and marks) drawn."""
    drawn = [n for n, owner in d.owner.items() if owner == n and n != INPUT_ID]
    used = {RULES[c.node(n)[keys.LAYER].op].family for n in drawn}
    families = [f for f in FILLS if f in used]
    collapsed = len(drawn) < len(c.layers)
    training_only = any(c.node(n)[keys.TRAINING_ONLY] for n in c.layers)
    return legend_label(families, collapsed, training_only, font)


def _legend(label: str) -> list[str]:
    """The legend, a node of its own just above the input (inside the title, Graphviz would
    stretch the swatches to the title's width)."""
    return [f'  "#legend" [label={label}, shape=plain, style=solid];',
            f'  "#legend" -> {_quote(INPUT_ID)} [style=invis];  /* keeps it above the input */']
