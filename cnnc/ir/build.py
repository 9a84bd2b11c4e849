"""Build the graph: one node per layer instance, an edge per input, in definition order."""

from __future__ import annotations

import networkx as nx

from cnnc.ir import keys
from cnnc.spec.expand import INPUT_ID, Network


def build_graph(net: Network) -> nx.DiGraph:
    g = nx.DiGraph(name=net.name)
    g.add_node(INPUT_ID, **{keys.LAYER: None, keys.ORDER: -1})
    for order, layer in enumerate(net.layers):
        g.add_node(layer.id, **{keys.LAYER: layer, keys.ORDER: order})
    for layer in net.layers:
        for port, source in enumerate(layer.inputs):
            if g.has_edge(source, layer.id):  # the same tensor fed twice, e.g. add(x, x)
                g.edges[source, layer.id]["ports"] += (port,)
            else:
                g.add_edge(source, layer.id, ports=(port,))
    return g


def topological_order(g: nx.DiGraph) -> list[str]:
    """A deterministic topological order: ties go to the layer defined first."""
    return list(nx.lexicographical_topological_sort(g, key=lambda n: g.nodes[n][keys.ORDER]))
