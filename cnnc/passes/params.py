"""Count learnable parameters and buffers (BatchNorm running statistics) per node."""

from __future__ import annotations

import math

import networkx as nx

from cnnc.ir import keys
from cnnc.ir.keys import node_table
from cnnc.ops import RULES


def count_params(g: nx.DiGraph, order: list[str]) -> None:
    nodes = node_table(g)
    for node in order[1:]:
        data = nodes[node]
        layer = data[keys.LAYER]
        rule = RULES[layer.op]
        xs = data[keys.INPUT_SHAPES]
        data[keys.PARAMS] = rule.params(layer.attrs, xs)
        data[keys.BUFFERS] = rule.buffers(layer.attrs, xs)


def numel(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(map(math.prod, shapes.values()))  # map, not a generator: compile speed
