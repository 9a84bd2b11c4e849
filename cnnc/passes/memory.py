"""Activation memory of inference: the sum of all outputs, and the peak when each tensor is
freed right after its last reader runs, in topological order."""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from cnnc.ir import keys
from cnnc.ir.build import extra_reads
from cnnc.ir.keys import node_table
from cnnc.ops import RULES

BYTES_PER_ELEMENT = 4  # float32
INDEX_BYTES = 8        # int64: extra outputs (max pooling's indices), Rule.outputs


@dataclass(frozen=True)
class Memory:
    activation_bytes: int       # every layer output, input excluded
    peak_bytes: int             # most bytes alive at once, input included
    peak_node: str              # the layer whose output is allocated at the peak


def measure_memory(g: nx.DiGraph, order: list[str], outputs: list[str]) -> Memory:
    """Memory for one sample; training-only nodes are left out (they do not run in inference).

    Every layer output is its own tensor (views such as flatten are not modelled), allocated
    before its layer runs, with the extra outputs some layer reads (`pool1.indices`, int64);
    the network outputs stay alive to the end.
    """
    nodes = node_table(g)
    steps = [n for n in order if not nodes[n][keys.TRAINING_ONLY]]
    reads = {n: nodes[n][keys.LAYER].inputs if i else () for i, n in enumerate(steps)}
    read = {value for values in reads.values() for value in values}
    made = {n: [(n, math.prod(nodes[n][keys.SHAPE]) * BYTES_PER_ELEMENT)] for n in steps}
    for n in steps[1:]:  # extra outputs that inference reads: a training-only head's are not made
        if RULES[nodes[n][keys.LAYER].op].outputs:
            made[n] += [(f"{n}.{o}", math.prod(nodes[n][keys.OUTPUT_SHAPES][o]) * INDEX_BYTES)
                        for o in extra_reads(g, n) if f"{n}.{o}" in read]
    size = {value: b for n in steps for value, b in made[n]}
    last_read = {value: i for i, n in enumerate(steps) for value in reads[n]}
    live = peak = 0
    peak_node = steps[0]
    for i, node in enumerate(steps):
        live += sum(b for _, b in made[node])
        if live > peak:
            peak, peak_node = live, node
        for value in set(reads[node]):
            if last_read[value] == i and value not in outputs:
                live -= size[value]
    return Memory(sum(size.values()) - size[steps[0]], peak, peak_node)
