"""Count multiply-accumulates per node for one sample (conventions in ARCHITECTURE.md)."""

from __future__ import annotations

import networkx as nx

from cnnc.ir import keys
from cnnc.ir.build import value_shape
from cnnc.ops import RULES


def count_macs(g: nx.DiGraph, order: list[str]) -> None:
    for node in order[1:]:
        layer = g.nodes[node][keys.LAYER]
        xs = tuple(value_shape(g, p) for p in layer.inputs)
        g.nodes[node][keys.MACS] = RULES[layer.op].macs(layer.attrs, xs, g.nodes[node][keys.SHAPE])
