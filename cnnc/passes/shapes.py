"""Infer every tensor shape, in topological order, collecting every shape error."""

from __future__ import annotations

import networkx as nx

from cnnc.errors import Diagnostic, RuleError, ShapeError
from cnnc.ir import keys
from cnnc.ops import RULES
from cnnc.spec.early_shapes import shape_diagnostic
from cnnc.spec.expand import INPUT_ID, Network


def infer_shapes(g: nx.DiGraph, net: Network, order: list[str], input_shape: tuple[int, ...]) -> None:
    g.nodes[INPUT_ID][keys.SHAPE] = input_shape
    problems: list[Diagnostic] = []
    for node in order[1:]:
        layer = g.nodes[node][keys.LAYER]
        xs = tuple(g.nodes[p].get(keys.SHAPE) for p in layer.inputs)
        if any(x is None for x in xs):
            continue  # an input already failed; one error per root cause
        try:
            g.nodes[node][keys.SHAPE] = RULES[layer.op].infer(layer.attrs, xs)
        except RuleError as e:
            problems.append(_diagnostic(g, net, node, e, xs))
    if problems:
        raise ShapeError(problems)


def _diagnostic(g: nx.DiGraph, net: Network, node: str, e: RuleError,
                xs: tuple[tuple[int, ...], ...]) -> Diagnostic:
    layer = g.nodes[node][keys.LAYER]
    producers = [(p, g.nodes[p][keys.LAYER]) for p in layer.inputs]
    return shape_diagnostic(layer, e, producers, xs, net.source)
