"""What a diagram draws: layers and block instances, before any DOT syntax.

Block instances nest (`layer2` holds `layer2.0`, which holds `layer2.0.downsample`); a top-level
instance is at depth 0. With `depth=None` every layer is drawn and every instance is a cluster
around its layers. With `depth=N` the instances nested less than N deep stay clusters and each
instance at depth N becomes one node standing for all the layers inside it, so `depth=0` draws
every top-level instance as one node. Edges join drawn nodes and carry the layer whose output
they hold, so a collapsed instance keeps every one of its inputs and outputs.

The spine, the longest path from the input to an output, is drawn as a straight line: without
it, Graphviz sets each block beside the skip edge that passes the one before, and a deep network
drifts sideways into a staircase as wide as it is deep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import networkx as nx

from cnnc.ir import keys
from cnnc.ir.build import split_value
from cnnc.spec.expand import INPUT_ID

if TYPE_CHECKING:
    from cnnc.compiled import CompiledData


@dataclass
class Instance:
    """A block instance as drawn: a cluster of members, or (collapsed) one node."""

    path: str                  # qualified instance path, "" for the whole network
    block: str                 # the block's name, "" for the whole network
    collapsed: bool = False
    layers: list[str] = field(default_factory=list)  # every layer inside, topological order
    members: list[str | Instance] = field(default_factory=list)  # drawn directly inside

    def child(self, path: str, block: str, collapsed: bool) -> Instance:
        for m in self.members:
            if isinstance(m, Instance) and m.path == path:
                return m
        made = Instance(path, block, collapsed)
        self.members.append(made)
        return made


@dataclass(frozen=True)
class Edge:
    tail: str       # drawn node ids: a layer id, an instance path or `input`
    head: str
    producer: str   # the value the edge carries: a layer (or `input`), or `pool1.indices`


@dataclass
class Diagram:
    root: Instance
    edges: list[Edge]
    owner: dict[str, str]  # layer id -> the drawn node that shows it
    spine: set[str]        # drawn nodes on the longest path from the input


def plan_diagram(c: CompiledData, depth: int | None = None) -> Diagram:
    """The clusters, nodes and edges of `c` drawn to `depth` (None: every layer)."""
    root = Instance("", "")
    owner = {INPUT_ID: INPUT_ID}
    for node in c.layers:
        calls = c.node(node)[keys.LAYER].calls
        shown = calls if depth is None else calls[:depth]
        here = root
        here.layers.append(node)
        for site in shown:
            here = here.child(site.instance, site.block, collapsed=False)
            here.layers.append(node)
        if depth is not None and len(calls) > depth:
            site = calls[depth]
            box = here.child(site.instance, site.block, collapsed=True)
            box.layers.append(node)
            owner[node] = box.path
        else:
            here.members.append(node)
            owner[node] = node
    edges: dict[Edge, None] = {}  # ordered set: a tensor drawn once per consumer node
    for node in c.layers:
        for producer in c.node(node)[keys.LAYER].inputs:
            tail, head = owner[split_value(c.graph, producer)[0]], owner[node]
            if tail != head:
                edges[Edge(tail, head, producer)] = None
    longest = nx.dag_longest_path(c.graph, topo_order=c.order)  # ties: deterministic
    return Diagram(root, list(edges), owner, {owner[n] for n in longest})


def instance_output(c: CompiledData, box: Instance, owner: dict[str, str]) -> str:
    """The layer whose output a collapsed instance hands on: the last one read from outside
    (or a network output); the last layer when nothing outside reads it."""
    for node in reversed(box.layers):
        if node in c.outputs or any(owner[s] != box.path for s in c.graph.successors(node)):
            return node
    return box.layers[-1]
