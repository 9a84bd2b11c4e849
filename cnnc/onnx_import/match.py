"""Multi-node forms as trees of node patterns, matched from the node that gives the form's result
back towards its input, and replaced by one node (the fusions of patterns_norm.py and
patterns_lrn.py).

A pattern `Form(op_type, args)` matches a node of that type whose inputs match `args` one to one
(Add and Mul either way round). An argument is a Form (an input computed by a node that only this
form reads), a number (a one-element constant within float32 rounding of it: constants are
checked, not assumed), a name (any value, bound under that name; a name used twice must be the
same value) or None (anything, such as a shape computed from the input's).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

from cnnc.onnx_import.reader import Graph, Node, producers

Arg = Union["Form", float, str, None]
Bound = dict[str, str | Node]  # name -> a value name, or a Form's node under its `bind`


@dataclass(frozen=True)
class Form:
    op_type: str
    args: tuple[Arg, ...]
    bind: str | None = None  # the name the matched node is bound under, for its attributes


class _Context:
    def __init__(self, g: Graph) -> None:
        self.g = g
        self.producer = producers(g.nodes)
        self.users: dict[str, int] = defaultdict(int)
        for n in g.nodes:
            for v in n.inputs:
                self.users[v] += 1
        for v in g.outputs:
            self.users[v] += 1  # a graph output is read from outside the form


def _extra_outputs_read(node: Node, ctx: _Context) -> bool:
    return any(ctx.users[v] for v in node.outputs[1:] if v)


def _number(g: Graph, value: str, want: float) -> bool:
    c = g.const(value)
    return c is not None and c.size == 1 and abs(float(c.reshape(())) - want) <= 1e-6 * abs(want)


def _arg(value: str, arg: Arg, ctx: _Context, bound: Bound) -> list[Node] | None:
    if isinstance(arg, Form):
        node = ctx.producer.get(value)
        if node is None or ctx.users[value] != 1 or _extra_outputs_read(node, ctx):
            return None
        return _node(node, arg, ctx, bound)
    if isinstance(arg, float):
        return [] if _number(ctx.g, value, arg) else None
    if isinstance(arg, str) and bound.setdefault(arg, value) != value:
        return None
    return []


def _node(node: Node, form: Form, ctx: _Context, bound: Bound) -> list[Node] | None:
    """The nodes of the match of `form` at `node` (`node` last), binding names in `bound`."""
    inputs = list(node.inputs)
    while inputs and not inputs[-1]:
        inputs.pop()  # optional inputs left out at the end
    if node.op_type != form.op_type or len(inputs) != len(form.args):
        return None
    orders = [form.args]
    if node.op_type in ("Add", "Mul") and len(form.args) == 2:
        orders.append(form.args[::-1])
    for args in orders:
        trial = dict(bound)
        nodes: list[Node] = []
        for value, arg in zip(inputs, args):
            part = _arg(value, arg, ctx, trial)
            if part is None:
                break
            nodes += part
        else:
            if form.bind:
                trial[form.bind] = node
            bound.clear()
            bound.update(trial)
            return [*nodes, node]
    return None


def match(g: Graph, node: Node, form: Form) -> tuple[list[Node], Bound] | None:
    """The nodes (`node` last) and bindings of the match of `form` at `node`, if it matches."""
    bound: Bound = {}
    nodes = _node(node, form, _Context(g), bound)
    return None if nodes is None else (nodes, bound)


Build = Callable[[Graph, Node, Bound], Node | None]


def fuse(g: Graph, forms: tuple[Form, ...], build: Build) -> None:
    """Each match of one of `forms` (the first that matches at a node) becomes the node `build`
    makes of its last node and bindings; `build` returns None where the bindings rule it out.
    Nodes are tried from the last, so a larger form is found before the smaller one inside it."""
    ctx = _Context(g)
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for node in reversed(g.nodes):
        if node.name in gone or node.name in rewritten or _extra_outputs_read(node, ctx):
            continue
        for form in forms:
            bound: Bound = {}
            nodes = _node(node, form, ctx, bound)
            if nodes is None or any(n.name in gone or n.name in rewritten for n in nodes):
                continue
            new = build(g, node, bound)
            if new is not None:
                gone.update(n.name for n in nodes[:-1])
                rewritten[node.name] = new
                break
    g.replace(gone, rewritten)


def named(node: Node, op_type: str) -> str:
    """A fused node's name from one of its nodes': torch's `/blocks.0/act/Mul_1` ->
    `/blocks.0/act/<op_type>`, so that the layer id is the module's path; cnnc's names (the
    layer's id, or `<id>/<n>` inside it) give the layer's id."""
    scope, slash, _ = node.name.rpartition("/")
    return f"{scope}/{op_type}" if slash else node.name
