"""Shapes during expansion, for `$in.channels` and friends: the shape of a value already expanded,
computed on demand with the op rules from the network input, and remembered.

Nothing here runs unless an expression reads a shape, so specs that do not pay nothing. A layer
whose rule refuses its inputs is reported as the shape pass would report it, once; every value
that depends on it is then unavailable without a second message.
"""

from __future__ import annotations

from cnnc.errors import Diagnostic, RuleError, did_you_mean
from cnnc.ops import RULES
from cnnc.ops.base import Shape, fmt
from cnnc.spec.expr import ExprError
from cnnc.spec.load import SourceMap
from cnnc.spec.network import INPUT_ID, LayerInstance, call_notes
from cnnc.spec.refs import NotYetDefined, Ref, References, visible


class Unavailable(Exception):
    """The shape depends on a layer already reported as broken."""


class EarlyShapes:
    def __init__(self, input_shape: Shape, layers: list[tuple[LayerInstance, list[Ref | str]]],
                 refs: References, source: SourceMap):
        self.layers, self.refs, self.source = layers, refs, source
        self.shapes: dict[str, Shape | None] = {INPUT_ID: input_shape}  # None: broken
        self.inputs: dict[str, list[str]] = {}
        self.index: dict[str, tuple[LayerInstance, list[Ref | str]]] = {}
        self.swept = 0  # layers[:swept] have their shapes from _sweep
        self.problems: list[Diagnostic] = []  # shape errors, reported after the expansion

    def of(self, ref: Ref, what: str) -> Shape:
        """The shape of the value `ref` names; `what` is the expression asking, for messages.
        Raises ExprError when it cannot be known here, Unavailable when it is broken."""
        ids = self._resolve(ref, what)
        if len(ids) != 1:
            raise ExprError(f"`{what}` reads {len(ids)} values; a shape is of one")
        node = ids[0]
        if node not in self.shapes:
            self._sweep(node)
        if node not in self.shapes:
            self._compute(node, what)
        shape = self.shapes[node]
        if shape is None:
            raise Unavailable
        return shape

    def _resolve(self, ref: Ref, what: str) -> list[str]:
        try:
            ids = self.refs.resolve(ref, early=True)
        except NotYetDefined as e:
            missing = e.ref
            hint = did_you_mean(missing.name, visible(missing.scope)) or ("shapes are known for what is defined above: "
                                                "move the layer up, or check the name")
            raise ExprError(f"`{what}` needs the shape of '{missing.name}', which is not "
                            "defined above this point", kind="reference", hint=hint) from None
        if ids is None:
            raise Unavailable  # the reference is reported already
        return ids

    def _sweep(self, node: str) -> None:
        """Shapes in definition order up to `node` while every input is known: a spec mostly
        defines a layer below its inputs, and then each layer costs one rule call (a third of
        densenet201's expansion was the search below). It stops at the first layer that needs
        more (a forward reference, a broken input, an error), which _compute then handles."""
        shapes, resolve = self.shapes, self.refs.resolve
        while self.swept < len(self.layers) and node not in shapes:
            layer, refs = self.layers[self.swept]
            if layer.id in shapes:  # _compute reached it first
                self.swept += 1
                continue
            try:
                resolved = [resolve(r, early=True) for r in refs]
            except NotYetDefined:
                return
            if None in resolved:
                return
            ids = resolved[0] if len(resolved) == 1 else [i for r in resolved for i in r]
            xs = tuple(map(shapes.get, ids))
            if None in xs:
                return
            try:
                shapes[layer.id] = RULES[layer.op].infer(layer.attrs, xs)
            except RuleError:
                return  # _compute reports it, if `node` needs it
            self.inputs[layer.id] = ids
            self.swept += 1

    def _compute(self, node: str, what: str) -> None:
        """Shapes of `node` and of everything it depends on, depth first without recursion."""
        for layer, refs in self.layers[len(self.index):]:
            self.index[layer.id] = (layer, refs)
        # on_path: the layers whose inputs are being computed, each above the one that reads
        # it; a layer merely waiting on the stack (a sibling's input too) is not a loop
        stack, on_path = [node], set()
        while stack:
            top = stack[-1]
            if top in self.shapes:  # computed meanwhile, through another reader
                stack.pop()
                continue
            if top not in self.index:
                if top.rpartition(".")[0] not in self.index:
                    raise Unavailable  # a layer that failed to expand, reported already
                raise ExprError(f"`{what}` needs the shape of '{top}', an extra output of a "
                                "layer, which is not known while blocks are expanded")
            layer, refs = self.index[top]
            on_path.add(top)
            if top not in self.inputs:
                self.inputs[top] = [i for r in refs for i in self._resolve(r, what)]
            pending = [i for i in self.inputs[top] if i not in self.shapes]
            if pending:
                for p in pending:
                    if p in on_path:
                        raise ExprError(f"`{what}` needs the shape of '{p}', which depends on "
                                        "itself (its `from` references form a loop)",
                                        kind="cycle")
                stack.extend(pending)
                continue
            stack.pop()
            on_path.discard(top)
            xs = tuple(self.shapes[i] for i in self.inputs[top])
            if any(x is None for x in xs):
                self.shapes[top] = None  # one error per root cause
                continue
            try:
                self.shapes[top] = RULES[layer.op].infer(layer.attrs, xs)
            except RuleError as e:
                self.shapes[top] = None
                producers = [(i, self.index[i][0] if i in self.index else None)
                             for i in self.inputs[top]]
                self.problems.append(shape_diagnostic(layer, e, producers, xs, self.source))


def shape_diagnostic(layer: LayerInstance, e: RuleError,
                     producers: list[tuple[str, LayerInstance | None]],
                     xs: tuple[Shape, ...], source: SourceMap) -> Diagnostic:
    """A rule's refusal as the user sees it: at the layer (or the attribute at fault), with a
    note for each input saying what it gives."""
    path = layer.path + (e.attr,) if e.attr else layer.path
    notes = []
    for port, ((producer, made), x) in enumerate(zip(producers, xs)):
        if producer == INPUT_ID:
            notes.append((source.value(("input",)), f"input {port}: the network input, {fmt(x)}"))
        elif made is not None:
            notes.append((source.value(made.path),
                          f"input {port}: '{producer}' ({made.op}) gives {fmt(x)}"))
    return Diagnostic(e.kind, f"layer '{layer.id}' ({layer.op}): {e.message}",
                      source.value(path), tuple(notes) + call_notes(layer.calls), e.hint)

