"""Receptive field of every node along each spatial axis of the network input.

size:  how many input pixels one output unit can see;
jump:  the distance in input pixels between neighbouring output units (cumulative stride);
start: the input coordinate of the centre of the first output unit's field (pixel i is at i).
Merges take the field of the input with the largest size; an input broadcast to the output (a
squeeze-and-excitation gate) only widens it, the jump and start being those of the inputs of the
output's size. An extra output (max pooling's indices) has its layer's field: it says where the
maxima of the same windows lie; `maxunpool` follows its values input, as every non-merge op
follows its first input.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import networkx as nx

from cnnc.ir import keys
from cnnc.ir.build import split_value
from cnnc.ir.keys import node_table
from cnnc.ops import RULES
from cnnc.ops.base import IDENTITY_WINDOW, Window


class AxisField(NamedTuple):  # a tuple, not a frozen dataclass: 3x cheaper to make
    size: float
    jump: float
    start: float

    def through(self, w: Window) -> AxisField:
        return AxisField(self.size + (w.kernel - 1) * self.jump, self.jump * w.stride,
                         self.start + w.offset * self.jump)


ReceptiveField = tuple[AxisField, ...]


def merged_field(fields: list[ReceptiveField], xs: tuple, out: tuple[int, ...]) -> ReceptiveField:
    """What a merge sees: the field of its widest input. An input broadcast to the output (a
    squeeze-and-excitation gate, (C, 1, 1) times (C, H, W)) has no positions to step through, so
    its jump and start say nothing of the output's: they come from the inputs of the output's
    size, and the broadcast ones only widen the size."""
    sizes = tuple(out[1:])
    own, broadcast = [], []
    for field, x in zip(fields, xs):
        (own if tuple(x[1:]) == sizes else broadcast).append(field)
    widest = max(own or broadcast, key=_breadth)
    if not own or not broadcast:  # nothing broadcast (most merges): that field as it is
        return widest
    return tuple(a._replace(size=max([a.size, *(f[k].size for f in broadcast)]))
                 for k, a in enumerate(widest))


def _breadth(field: ReceptiveField) -> float:
    return sum([a.size for a in field])


def _field(g: nx.DiGraph, nodes: dict[str, dict[str, Any]], value: str) -> ReceptiveField:
    """The field of a value: an extra output (indices) sees what its layer's main output sees."""
    return nodes[value if value in nodes else split_value(g, value)[0]][keys.RECEPTIVE_FIELD]


def trace_receptive_fields(g: nx.DiGraph, order: list[str]) -> None:
    nodes = node_table(g)
    first, *rest = order
    axes = len(nodes[first][keys.SHAPE]) - 1
    nodes[first][keys.RECEPTIVE_FIELD] = (AxisField(1, 1, 0.0),) * axes
    for node in rest:
        data = nodes[node]
        layer = data[keys.LAYER]
        rule = RULES[layer.op]
        xs = data[keys.INPUT_SHAPES]
        if len(xs) == 1 or rule.sees != "widest":  # no list for the one input of most
            widest = _field(g, nodes, layer.inputs[0])
        else:
            widest = merged_field([_field(g, nodes, p) for p in layer.inputs], xs,
                                  data[keys.SHAPE])
        windows = rule.receptive(layer.attrs, xs)
        # a 1x1 convolution keeps its input's field, the same object: shared fields are
        # made once and written to JSON once (report/json.py)
        if windows is not None and len(windows) == len(widest) and \
                any(w != IDENTITY_WINDOW for w in windows):
            widest = tuple(a.through(w) for a, w in zip(widest, windows))
        data[keys.RECEPTIVE_FIELD] = widest
