"""Build the graph: one node per layer instance, an edge per input, in definition order."""

from __future__ import annotations

import networkx as nx

from cnnc.ir import keys
from cnnc.ops import RULES
from cnnc.spec.expand import INPUT_ID, Network


def build_graph(net: Network) -> nx.DiGraph:
    g = nx.DiGraph(name=net.name)
    g.add_node(INPUT_ID, **{keys.LAYER: None, keys.ORDER: -1})
    for order, layer in enumerate(net.layers):
        g.add_node(layer.id, **{keys.LAYER: layer, keys.ORDER: order})
    for layer in net.layers:
        for port, value in enumerate(layer.inputs):
            source, output = split_value(g, value)
            if g.has_edge(source, layer.id):  # the same node read twice, e.g. add(x, x)
                edge = g.edges[source, layer.id]
                edge[keys.PORTS] += (port,)
                edge[keys.READS] += (output,)
            else:
                g.add_edge(source, layer.id, **{keys.PORTS: (port,), keys.READS: (output,)})
    return g


def split_value(g: nx.DiGraph, value: str) -> tuple[str, str | None]:
    """The node that makes a value and which of its outputs it is: `conv1` -> ('conv1', None),
    `stage1.pool.indices` -> ('stage1.pool', 'indices'). Expansion accepted only values whose
    node declares that output (Rule.outputs)."""
    if value in g:
        return value, None
    node, output = value.rsplit(".", 1)
    assert output in RULES[g.nodes[node][keys.LAYER].op].outputs, value
    return node, output


def value_shape(g: nx.DiGraph, value: str) -> tuple[int, ...] | None:
    """The shape of a value (a node's main output or one of its extra outputs); None before
    infer_shapes has reached it."""
    node, output = split_value(g, value)
    data = g.nodes[node]
    return data.get(keys.SHAPE) if output is None else data.get(keys.OUTPUT_SHAPES, {}).get(output)


def extra_reads(g: nx.DiGraph, node: str) -> tuple[str, ...]:
    """The extra outputs of `node` that some layer reads, in Rule.outputs order."""
    read = {o for _, _, reads in g.out_edges(node, data=keys.READS) for o in reads if o}
    layer = g.nodes[node][keys.LAYER]
    return tuple(o for o in RULES[layer.op].outputs if o in read) if layer else ()


def topological_order(g: nx.DiGraph) -> list[str]:
    """A deterministic topological order: ties go to the layer defined first."""
    return list(nx.lexicographical_topological_sort(g, key=lambda n: g.nodes[n][keys.ORDER]))
