"""Activation memory of inference: the sum of all outputs, and the peak when each tensor is
freed right after its last reader runs, in topological order."""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from cnnc.ir import keys
from cnnc.ir.keys import node_table

BYTES_PER_ELEMENT = 4  # float32


@dataclass(frozen=True)
class Memory:
    activation_bytes: int       # every layer output, input excluded
    peak_bytes: int             # most bytes alive at once, input included
    peak_node: str              # the layer whose output is allocated at the peak


def measure_memory(g: nx.DiGraph, order: list[str], outputs: list[str]) -> Memory:
    """Memory for one sample; training-only nodes are left out (they do not run in inference).

    Every layer output is its own tensor (views such as flatten are not modelled), allocated
    before its layer runs; the network outputs stay alive to the end.
    """
    nodes = node_table(g)
    steps = [n for n in order if not nodes[n][keys.TRAINING_ONLY]]
    size = {n: math.prod(nodes[n][keys.SHAPE]) * BYTES_PER_ELEMENT for n in steps}
    last_read = {}
    for i, node in enumerate(steps):
        for producer in g.pred[node]:
            last_read[producer] = i
    live = peak = 0
    peak_node = steps[0]
    for i, node in enumerate(steps):
        live += size[node]
        if live > peak:
            peak, peak_node = live, node
        for producer in g.pred[node]:
            if last_read[producer] == i and producer not in outputs:
                live -= size[producer]
    return Memory(sum(size.values()) - size[steps[0]], peak, peak_node)
