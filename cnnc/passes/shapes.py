"""Infer every tensor shape, in topological order, collecting every shape error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import networkx as nx

from cnnc.errors import Diagnostic, RuleError, ShapeError
from cnnc.ir import keys
from cnnc.ops import RULES
from cnnc.spec.early_shapes import shape_diagnostic
from cnnc.spec.expand import INPUT_ID, Network


def infer_shapes(g: nx.DiGraph, net: Network, order: list[str], input_shape: tuple[int, ...],
                 merge_hint: Callable[[], str | None] = lambda: None) -> None:
    """Write every node's shape. A merge whose inputs disagree gets `merge_hint()` as its hint
    where that is not None: the input sizes that would fit (called once, and only then)."""
    g.nodes[INPUT_ID][keys.SHAPE] = input_shape
    problems: list[tuple[str, Diagnostic]] = []
    for node in order[1:]:
        layer = g.nodes[node][keys.LAYER]
        xs = tuple(g.nodes[p].get(keys.SHAPE) for p in layer.inputs)
        if any(x is None for x in xs):
            continue  # an input already failed; one error per root cause
        try:
            g.nodes[node][keys.SHAPE] = RULES[layer.op].infer(layer.attrs, xs)
        except RuleError as e:
            problems.append((node, _diagnostic(g, net, node, e, xs)))
    if problems:
        merges = [i for i, (node, _) in enumerate(problems)
                  if RULES[g.nodes[node][keys.LAYER].op].family == "merge"]
        hint = merge_hint() if merges else None
        raise ShapeError(replace(d, hint=hint) if hint and i in merges else d
                         for i, (_, d) in enumerate(problems))


def _diagnostic(g: nx.DiGraph, net: Network, node: str, e: RuleError,
                xs: tuple[tuple[int, ...], ...]) -> Diagnostic:
    layer = g.nodes[node][keys.LAYER]
    producers = [(p, g.nodes[p][keys.LAYER]) for p in layer.inputs]
    return shape_diagnostic(layer, e, producers, xs, net.source)
