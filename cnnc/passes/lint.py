"""Warnings: what compiles but is likely a mistake. They are reported and the compile goes on.

`dropped`: a pool in floor mode whose windows end before its input does, so the last rows or
columns never reach the output (a 2x2 pool on 569x569 sees 568x568). Only pools: a strided conv
that skips a last row is usual and intended (ResNet's stem on an odd size), and its hint would
be noise.
"""

from __future__ import annotations

from collections.abc import Callable

import networkx as nx

from cnnc.errors import Diagnostic
from cnnc.ir import keys
from cnnc.ops import RULES
from cnnc.ops.base import fmt
from cnnc.spec.expand import Network, call_notes

# The positions a pool drops on each axis, named as a reader of the tensor calls them.
_AXIS_WORDS = {1: ("position",), 2: ("row", "column"), 3: ("plane", "row", "column")}


def lint(g: nx.DiGraph, net: Network, order: list[str],
         fitting_sizes: Callable[[], str | None]) -> tuple[Diagnostic, ...]:
    """Every warning of a graph whose shapes are inferred, in topological order.
    `fitting_sizes` names the nearest input sizes that fit, for the hint; it is only called
    when there is something to warn about."""
    found = []
    for node in order[1:]:
        layer = g.nodes[node][keys.LAYER]
        rule = RULES[layer.op]
        if rule.dropped is None:
            continue
        xs = tuple(g.nodes[p][keys.SHAPE] for p in layer.inputs)
        drops = rule.dropped(layer.attrs, xs, g.nodes[node][keys.SHAPE])
        if any(drops):
            found.append((node, layer, xs[0], drops))
    if not found:
        return ()
    sizes = fitting_sizes()
    fix = f", or give an input of {sizes}" if sizes else ""
    warnings = []
    for node, layer, x, drops in found:
        words = _AXIS_WORDS.get(len(drops), ("position",) * len(drops))
        what = " and ".join(f"the last {word}" if n == 1 else f"the last {n} {word}s"
                            for n, word in zip(drops, words) if n)
        kept = fmt(tuple(s - n for s, n in zip(x[1:], drops)))
        warnings.append(Diagnostic(
            "dropped", f"layer '{node}' ({layer.op}): {what} of its {fmt(x)} input never "
                       f"reach the output: its windows end at {kept} (floor mode)",
            net.source.value(layer.path), call_notes(layer.calls),
            f"set `ceil_mode: true` or pad the input to pool them too{fix}",
            severity="warning"))
    return tuple(warnings)
