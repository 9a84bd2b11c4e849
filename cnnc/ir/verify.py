"""Structural checks: cycles, the number of inputs of each op, and unused layers.

Every layer has at least one input (the previous layer by default), so once cycles are excluded
every layer depends on the network input: unreachable layers cannot be written.

Also marks training-only nodes: a layer flagged `training_only`, and everything that depends on it.
"""

from __future__ import annotations

import networkx as nx

from cnnc.errors import Diagnostic, GraphError
from cnnc.ir import keys
from cnnc.ir.build import split_value
from cnnc.ir.keys import node_table
from cnnc.ops import RULES
from cnnc.spec.expand import Network, call_notes


def verify(g: nx.DiGraph, net: Network, order: list[str] | None) -> None:
    """Raise GraphError with every structural problem; `order` is None when the graph has cycles."""
    source = net.source
    problems: list[Diagnostic] = list(net.reference_errors)
    if order is None:
        for component in nx.strongly_connected_components(g):
            if len(component) > 1 or any(g.has_edge(n, n) for n in component):
                cycle = [u for u, _ in nx.find_cycle(g.subgraph(component))]
                first = min(cycle, key=lambda n: g.nodes[n][keys.ORDER])
                start = cycle.index(first)
                loop = cycle[start:] + cycle[:start] + [first]
                problems.append(Diagnostic(
                    "cycle", f"layers form a cycle: {' -> '.join(loop)}",
                    source.value(g.nodes[first][keys.LAYER].path),
                    hint="`from` must not lead back to the layer itself"))
    nodes = node_table(g)
    for node, data in nodes.items():
        layer = data[keys.LAYER]
        if layer is None or node in net.broken:
            continue
        if RULES[layer.op].index_inputs or not all(map(nodes.__contains__, layer.inputs)):
            problems += _index_inputs(g, net, node)
        low, high = RULES[layer.op].arity
        n = len(layer.inputs)
        if n < low or (high is not None and n > high):
            want = str(low) if low == high else f"at least {low}" if high is None else f"{low}-{high}"
            problems.append(Diagnostic(
                "arity", f"'{node}' ({layer.op}) takes {want} input{'s' * (want != '1')}, got {n}",
                source.value(layer.path + ("from",)), call_notes(layer.calls),
                "list them in `from: [a, b]`" if n < low else "remove inputs from `from`"))
    # after a wrong reference "unused" would be noise
    if order is not None and not any(d.kind == "reference" for d in problems):
        needed = set(net.outputs)  # and what they depend on: one sweep against the order
        for node in reversed(order):
            if node in needed:
                needed.update(g.pred[node])
        for node in order:
            layer = nodes[node][keys.LAYER]
            if layer is not None and node not in needed:
                problems.append(Diagnostic(
                    "unused", f"the output of '{node}' is never used", source.value(layer.path),
                    call_notes(layer.calls),
                    "feed it to a later layer with `from:`, list it in `outputs:`, or remove it"))
    if problems:
        raise GraphError(problems)
    _mark_training_only(g, net, order)


def _index_inputs(g: nx.DiGraph, net: Network, node: str) -> list[Diagnostic]:
    """Integer extra outputs (`pool1.indices`) go exactly to the inputs that take them."""
    layer = g.nodes[node][keys.LAYER]
    takes = RULES[layer.op].index_inputs
    problems = []
    for port, value in enumerate(layer.inputs):
        extra = split_value(g, value)[1] is not None
        if extra == (port in takes):
            continue
        if extra:
            message = f"'{node}' ({layer.op}) cannot read '{value}' at input {port}: it holds indices"
            hint = "indices are read only by " + ", ".join(
                f"`{op}` (input {', '.join(map(str, r.index_inputs))})"
                for op, r in sorted(RULES.items()) if r.index_inputs)
        else:
            message = f"'{node}' ({layer.op}) reads indices at input {port}, but '{value}' is a value"
            hint = "name a layer's indices there, such as `pool1.indices`"
        problems.append(Diagnostic("reference", message, net.source.value(layer.path + ("from",)),
                                   call_notes(layer.calls), hint))
    return problems


def _mark_training_only(g: nx.DiGraph, net: Network, order: list[str]) -> None:
    nodes = node_table(g)
    only: set[str] = set()
    for node in order:
        layer = nodes[node][keys.LAYER]
        if layer is not None and (layer.attrs.training_only or
                                  (only and not only.isdisjoint(g.pred[node]))):
            only.add(node)
    for node, data in nodes.items():
        data[keys.TRAINING_ONLY] = node in only
    if all(nodes[o][keys.TRAINING_ONLY] for o in net.outputs):
        raise GraphError([Diagnostic(
            "phase", "every output depends on a `training_only` layer, so inference has no output",
            net.source.value(g.nodes[net.outputs[0]][keys.LAYER].path),
            hint="mark only the auxiliary branches `training_only`")])

