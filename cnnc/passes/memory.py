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
    it is freed after its last reader, not counting those that read only its shape
    (Rule.size_inputs: the runtime does not keep it for them either); the network outputs
    stay alive to the end.
    """
    nodes = node_table(g)
    steps = [n for n in order if not nodes[n][keys.TRAINING_ONLY]]
    size: dict[str, int] = {}  # bytes of each value made, in the order made
    made: list[int] = []       # bytes each step allocates
    last_read: dict[str, int] = {}
    for i, n in enumerate(steps):
        data = nodes[n]
        size[n] = math.prod(data[keys.SHAPE]) * BYTES_PER_ELEMENT
        made.append(size[n])
        if i:
            layer = data[keys.LAYER]
            sizes = RULES[layer.op].size_inputs  # read for the shape alone: not kept for it
            for port, value in enumerate(layer.inputs):
                if port not in sizes:
                    last_read[value] = i
    for i, n in enumerate(steps):  # extra outputs that inference reads: a training-only
        if i and RULES[nodes[n][keys.LAYER].op].outputs:  # head's are not made
            for o in extra_reads(g, n):
                if f"{n}.{o}" in last_read:
                    size[f"{n}.{o}"] = math.prod(nodes[n][keys.OUTPUT_SHAPES][o]) * INDEX_BYTES
                    made[i] += size[f"{n}.{o}"]
    freed = [0] * len(steps)  # bytes freed after each step: what it was the last to read
    for value, i in last_read.items():
        if value not in outputs:
            freed[i] += size[value]
    live = peak = 0
    peak_node = steps[0]
    for i, node in enumerate(steps):
        live += made[i]
        if live > peak:
            peak, peak_node = live, node
        live -= freed[i]
    return Memory(sum(size.values()) - size[steps[0]], peak, peak_node)
