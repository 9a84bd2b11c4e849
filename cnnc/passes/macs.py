"""Count multiply-accumulates per node for one sample (conventions in ARCHITECTURE.md)."""

from __future__ import annotations

import networkx as nx

from cnnc.ir import keys
from cnnc.ir.keys import node_table
from cnnc.ops import RULES


def count_macs(g: nx.DiGraph, order: list[str]) -> None:
    nodes = node_table(g)
    for node in order[1:]:
        data = nodes[node]
        layer = data[keys.LAYER]
        xs = data[keys.INPUT_SHAPES]
        data[keys.MACS] = RULES[layer.op].macs(layer.attrs, xs, data[keys.SHAPE])
