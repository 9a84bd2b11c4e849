"""Graphviz DOT text of the network; deterministic, in topological order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnc.ir import keys
from cnnc.ops import RULES
from cnnc.ops.base import fmt
from cnnc.passes.params import numel
from cnnc.report.units import si

if TYPE_CHECKING:
    from cnnc.compiler import Compiled


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(c: Compiled) -> str:
    input_label = f"input\n{fmt(c.input_shape)}"
    lines = [f"digraph {_quote(c.name)} {{", "  rankdir=TB;",
             '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=8];',
             f"  input [label={_quote(input_label)}, shape=oval];"]
    for node in c.layers:
        d = c.node(node)
        layer = d[keys.LAYER]
        label = f"{node}\n{layer.op}  {fmt(d[keys.SHAPE])}"
        params = numel(d[keys.PARAMS])
        if params:
            label += f"\n{si(params)} params"
        shape = "ellipse" if RULES[layer.op].family == "merge" else "box"
        style = ', style="rounded,dashed"' if d[keys.TRAINING_ONLY] else ""
        lines.append(f"  {_quote(node)} [label={_quote(label)}, shape={shape}{style}];")
    for node in c.layers:
        for producer in c.node(node)[keys.LAYER].inputs:
            lines.append(f"  {_quote(producer)} -> {_quote(node)} "
                         f"[label={_quote(fmt(c.node(producer)[keys.SHAPE]))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
