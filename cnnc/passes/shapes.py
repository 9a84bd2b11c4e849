"""Infer every tensor shape, in topological order, collecting every shape error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import networkx as nx

from cnnc.errors import Diagnostic, RuleError, ShapeError
from cnnc.ir import keys
from cnnc.ir.build import split_value, value_shape
from cnnc.ir.keys import node_table
from cnnc.ops import RULES
from cnnc.spec.early_shapes import shape_diagnostic
from cnnc.spec.expand import INPUT_ID, Network


def infer_shapes(g: nx.DiGraph, net: Network, order: list[str], input_shape: tuple[int, ...],
                 merge_note: Callable[[], str | None] = lambda: None) -> None:
    """Write every node's shape. A merge whose inputs disagree gets `merge_note()` as a note
    where that is not None: the input sizes that would fit (called once, and only then). Its
    rule's own hint stays: another input size is one fix, a crop or a gate's shape another."""
    nodes = node_table(g)
    nodes[INPUT_ID][keys.SHAPE] = input_shape
    known = net.known_shapes if input_shape == net.input_shape else {}
    problems: list[tuple[str, Diagnostic]] = []
    for node in order[1:]:
        data = nodes[node]
        layer = data[keys.LAYER]
        xs = data[keys.INPUT_SHAPES] = tuple([
            nodes[p].get(keys.SHAPE) if p in nodes else value_shape(nodes, p)
            for p in layer.inputs])
        if None in xs:
            continue  # an input already failed; one error per root cause
        try:
            rule = RULES[layer.op]
            y = data[keys.SHAPE] = known.get(node) or rule.infer(layer.attrs, xs)
            if rule.outputs:  # extra outputs (indices) have the main output's shape
                data[keys.OUTPUT_SHAPES] = dict.fromkeys(rule.outputs, y)
        except RuleError as e:
            problems.append((node, _diagnostic(g, net, node, e, xs)))
    if problems:
        merges = [i for i, (node, _) in enumerate(problems)
                  if RULES[g.nodes[node][keys.LAYER].op].family == "merge"]
        sizes = merge_note() if merges else None
        raise ShapeError(replace(d, notes=(*d.notes, (None, sizes))) if sizes and i in merges
                         else d for i, (_, d) in enumerate(problems))


def _diagnostic(g: nx.DiGraph, net: Network, node: str, e: RuleError,
                xs: tuple[tuple[int, ...], ...]) -> Diagnostic:
    layer = g.nodes[node][keys.LAYER]
    producers = [(p, g.nodes[split_value(g, p)[0]][keys.LAYER]) for p in layer.inputs]
    return shape_diagnostic(layer, e, producers, xs, net.source)
