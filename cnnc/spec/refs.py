"""Reference resolution: what a `from:` (or `outputs:`) name stands for, once layers exist.

A name is looked up in the scope it was written in: a layer or block instance of that list, or
a block input. A dotted name walks into block instances (`layer1.0.conv1`, `enc.skip` for a named
output of block instance `enc`); `*` in place of a copy index stands for every copy of a repeated
instance, in order (`stack.*.skip`); a last part naming an extra output of the layer before it
(Rule.outputs, `pool.indices`) gives the input `<layer id>.<name>`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from cnnc.errors import did_you_mean
from cnnc.ops import RULES
from cnnc.spec.load import Path
from cnnc.spec.network import INPUT_ID, qualify

GATHER = "*"


@dataclass(eq=False, slots=True)
class Scope:
    """One list of layer entries being expanded: the top level or the body of one block copy."""

    prefix: str
    inputs: tuple[str, ...] = ()  # names `$name.channels` may read: block inputs, or `input`
    names: dict[str, str | Ref] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)  # where each name was defined
    # block instances made here by local name; a repeated one holds its copies in order
    instances: dict[str, Scope | list[Scope]] = field(default_factory=dict)
    outputs: dict[str, Ref] = field(default_factory=dict)  # the block's named outputs
    result: str | Ref | None = None                       # the output of the last entry


@dataclass(eq=False, slots=True)
class Ref:
    """A name used in a scope, resolved to node ids once the layers it names exist."""

    scope: Scope
    name: str
    path: Path


class NotYetDefined(Exception):
    """Raised while expanding: `ref` names nothing yet (a typo, or a layer further down)."""

    def __init__(self, ref: Ref):
        super().__init__(ref.name)
        self.ref = ref


class _NoPath(Exception):
    """A dotted name that leads nowhere, with the reason."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


class References:
    """Resolves references against the layers expanded so far; reports each bad place once."""

    def __init__(self, error: Callable[..., None]):
        self.error = error
        self.ids: dict[str, Path] = {INPUT_ID: ()}  # every layer made, by qualified id
        self.ops: dict[str, str] = {}
        self.reported: set[Path] = set()

    def resolve(self, ref: Ref | str, early: bool = False) -> list[str] | None:
        """The node ids `ref` stands for (several for a gather), or None after an error.
        `early` (during expansion): a name not defined yet raises NotYetDefined, unreported."""
        if type(ref) is str:  # a layer's id already (the layer before, by default)
            return [ref]
        if type(ref) is Ref:  # most names are a layer of their own scope: one lookup
            target = ref.scope.names.get(ref.name)
            if type(target) is str:
                return [target]
        return self._follow(ref, set(), early)

    def _follow(self, ref: Ref | str, seen: set[int], early: bool) -> list[str] | None:
        while isinstance(ref, Ref):
            if id(ref) in seen:
                self.report(ref, "cycle", f"'{ref.name}' is skipped and refers back to itself")
                return None
            seen.add(id(ref))
            scope, name = ref.scope, ref.name
            if name == INPUT_ID and not scope.prefix:
                return [INPUT_ID]
            target = scope.names.get(name)
            if target is None:
                try:
                    targets = self._dotted(ref, early) if "." in name else None
                except _NoPath as e:
                    self.report(ref, "reference", e.message, e.hint)
                    return None
                if targets is None:
                    if early:
                        raise NotYetDefined(ref)
                    self.unknown_reference(ref)
                    return None
                if len(targets) != 1:
                    found: list[str] = []
                    for t in targets:
                        got = self._follow(t, set(seen), early)
                        if got is None:
                            return None
                        found += got
                    return found
                target = targets[0]
            ref = target
        return [ref]

    def _dotted(self, ref: Ref, early: bool) -> list[Ref | str] | None:
        """What a dotted name leads to; None when its first part names nothing here."""
        parts = ref.name.split(".")
        try:
            return self._walk(ref.scope, parts, ref.name)
        except _NoPath:
            head, last = ref.name.rpartition(".")[::2]
            if not any(last in rule.outputs for rule in RULES.values()):
                raise
        layers = self._follow(Ref(ref.scope, head, ref.path), set(), early)
        if layers is None:
            return None
        for layer in layers:
            if layer not in self.ops or last not in RULES[self.ops[layer]].outputs:
                what = f"{self.ops[layer]}" if layer in self.ops else "the network input"
                raise _NoPath(f"'{layer}' ({what}) has no output `{last}`",
                              f"`{last}` is an output of: " + ", ".join(
                                  op for op, r in sorted(RULES.items()) if last in r.outputs))
        return [f"{layer}.{last}" for layer in layers]

    def _walk(self, scope: Scope, parts: list[str], name: str,
              nested: bool = False) -> list[Ref | str] | None:
        """None when the first part of a name names nothing in `scope` (the caller says so)."""
        head, rest = parts[0], parts[1:]
        if not rest:
            target = scope.outputs.get(head) or scope.names.get(head)
            if target is None:
                raise self._no_member(scope, head, name)
            return [target]
        instance = scope.instances.get(head)
        if instance is None:
            if head in scope.names:
                op = self.ops.get(qualify(scope.prefix, head))
                if op and RULES[op].outputs and len(rest) == 1:
                    raise _NoPath(f"'{qualify(scope.prefix, head)}' ({op}) has no output "
                                  f"`{rest[0]}`", did_you_mean(rest[0], RULES[op].outputs) or
                                  "its outputs: " + ", ".join(RULES[op].outputs))
                raise _NoPath(f"'{qualify(scope.prefix, head)}' is not a block instance, so "
                              f"'{name}' names nothing in it",
                              op and did_you_mean(rest[-1], RULES[op].outputs) or
                              "a dotted name reaches into block instances, or names an extra "
                              "output of a layer (Rule.outputs)")
            if nested:
                raise self._no_member(scope, head, name)
            return None
        copies = [instance]
        if isinstance(instance, list):
            index, rest = rest[0], rest[1:]
            if index == GATHER:
                copies = instance
                if not copies:
                    raise _NoPath(f"'{name}' gathers nothing: '{qualify(scope.prefix, head)}' "
                                  "has no copies (`repeat: 0`)")
            elif index.isdigit() and int(index) < len(instance):
                copies = [instance[int(index)]]
            else:
                raise _NoPath(f"'{qualify(scope.prefix, head)}' has copies 0 to "
                              f"{len(instance) - 1}, not '{index}' (in '{name}')",
                              "name a copy by its index, or every copy with `*`")
            if not rest:
                return [c.result for c in copies if c.result is not None]
        elif rest[0] == GATHER:
            raise _NoPath(f"'{qualify(scope.prefix, head)}' is not a repeated block instance: "
                          f"`*` in '{name}' stands for every copy of one",
                          f"write '{'.'.join([head, *rest[1:]])}'")
        found: list[Ref | str] = []
        for copy in copies:
            found += self._walk(copy, rest, name, nested=True) or []
        return found

    @staticmethod
    def _no_member(scope: Scope, head: str, name: str) -> _NoPath:
        outputs = f"; its outputs: {', '.join(scope.outputs)}" if scope.outputs else ""
        return _NoPath(f"block instance '{scope.prefix}' has no output or layer '{head}' "
                       f"(in '{name}')", did_you_mean(head, [*scope.outputs, *visible(scope)])
                       or f"name a layer of the block{outputs}")

    def report(self, ref: Ref, kind: str, message: str, hint: str | None = None) -> None:
        """One diagnostic per place in the file: the same mistake in every copy of a repeated
        block is one mistake."""
        if ref.path not in self.reported:
            self.reported.add(ref.path)
            self.error(kind, message, ref.path, hint=hint)

    def unknown_reference(self, ref: Ref) -> None:
        scope = ref.scope
        nested = [i[len(scope.prefix) + 1:] if scope.prefix else i for i in self.ids
                  if i.startswith(scope.prefix)]
        where = f"in '{scope.prefix}'" if scope.prefix else "at the top level"
        hint = did_you_mean(ref.name, visible(scope) + nested) or (
            "`in` is the block input" if scope.prefix else "`input` is the network input")
        self.report(ref, "reference", f"unknown layer '{ref.name}' {where}", hint)


def visible(scope: Scope) -> list[str]:
    """The names written in a scope (not the numbered copies of unnamed repeats)."""
    return [n for n in scope.names if not n.startswith("#")]
