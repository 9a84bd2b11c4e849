"""Infer every tensor shape, in topological order, collecting every shape error."""

from __future__ import annotations

import networkx as nx

from cnnc.errors import Diagnostic, RuleError, ShapeError
from cnnc.ir import keys
from cnnc.ir.build import split_value, value_shape
from cnnc.ops import RULES
from cnnc.ops.base import fmt
from cnnc.spec.expand import INPUT_ID, Network, call_notes


def infer_shapes(g: nx.DiGraph, net: Network, order: list[str], input_shape: tuple[int, ...]) -> None:
    g.nodes[INPUT_ID][keys.SHAPE] = input_shape
    problems: list[Diagnostic] = []
    for node in order[1:]:
        layer = g.nodes[node][keys.LAYER]
        xs = tuple(value_shape(g, p) for p in layer.inputs)
        if any(x is None for x in xs):
            continue  # an input already failed; one error per root cause
        try:
            y = g.nodes[node][keys.SHAPE] = RULES[layer.op].infer(layer.attrs, xs)
            # extra outputs (indices) have the main output's shape: Rule.outputs
            g.nodes[node][keys.OUTPUT_SHAPES] = dict.fromkeys(RULES[layer.op].outputs, y)
        except RuleError as e:
            problems.append(_diagnostic(g, net, node, e, xs))
    if problems:
        raise ShapeError(problems)


def _diagnostic(g: nx.DiGraph, net: Network, node: str, e: RuleError,
                xs: tuple[tuple[int, ...], ...]) -> Diagnostic:
    layer = g.nodes[node][keys.LAYER]
    path = layer.path + (e.attr,) if e.attr else layer.path
    span = net.source.value(path)
    notes = []
    for port, (producer, x) in enumerate(zip(layer.inputs, xs)):
        if producer == INPUT_ID:
            notes.append((net.source.value(("input",)), f"input {port}: the network input, {fmt(x)}"))
        else:
            made = g.nodes[split_value(g, producer)[0]][keys.LAYER]
            notes.append((net.source.value(made.path),
                          f"input {port}: '{producer}' ({made.op}) gives {fmt(x)}"))
    return Diagnostic(e.kind, f"layer '{node}' ({layer.op}): {e.message}", span,
                      tuple(notes) + call_notes(layer.calls), e.hint)
