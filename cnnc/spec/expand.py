"""Expand blocks, `repeat:` and `$arguments` into a flat list of layer instances.

Each instance gets a qualified id (`stage3.1.conv2`), validated attributes, the ids of its inputs,
and the source path of the mapping it came from, so later passes can point at the YAML.

References (`from:`) are resolved after everything is expanded (cnnc/spec/refs.py), so a layer
may name one defined further down, and a skipped layer (`if: false`) simply passes its input on
under its own id. Block instances are made in cnnc/spec/calls.py; shapes that expressions read
(`$in.channels`) are computed on demand in cnnc/spec/early_shapes.py.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cnnc.errors import Diagnostic, ShapeError, Span, SpecError, did_you_mean
from cnnc.ops import RULES
from cnnc.ops.base import Shape
from cnnc.spec.block_checks import check_blocks
from cnnc.spec.calls import instantiate
from cnnc.spec.diagnose import diagnose
from cnnc.spec.early_shapes import EarlyShapes, Unavailable
from cnnc.spec.expr import ExprError, arg_names, mentions_args, substitute, tensor_uses
from cnnc.spec.limits import MAX_LAYERS
from cnnc.spec.load import Path, SourceMap
from cnnc.spec.network import INPUT_ID, CallSite, LayerInstance, Network, call_notes, qualify
from cnnc.spec.op_names import unknown_op_hint
from cnnc.spec.refs import Ref, References, Scope
from cnnc.spec.schema import LAYER, RESERVED_NAMES, SpecDoc

__all__ = ["INPUT_ID", "CallSite", "LayerInstance", "Network", "call_notes", "expand", "qualify"]

_STRUCTURAL = ("id", "from", "if", "training_only", "op", "block")


class Expander:
    """The state of one expansion; block instances are made by cnnc/spec/calls.py."""

    def __init__(self, doc: SpecDoc, source: SourceMap, max_layers: int, input_shape: Shape):
        self.doc, self.source, self.max_layers = doc, source, max_layers
        self.input_shape = input_shape
        self.problems: list[Diagnostic] = []
        self.layers: list[tuple[LayerInstance, list[Ref | str]]] = []
        self.refs = References(self.error)
        self.bad_blocks: set[str] = set()  # reported once by check_blocks, not per instance
        self.shapes: EarlyShapes | None = None  # made when an expression first reads a shape
        self.copies = 0  # block copies made, bounded like layers (recursion makes many)
        self.place: tuple[Scope, Path] = (Scope(""), ())
        # An entry is substituted and validated once for each set of argument values it reads
        # (densenet201 makes 700 layers from 11 entries, and 2 of them read `$growth`).
        # by id of the raw entry: its fixed reuse key and the arguments it reads, ((id, None),
        # None) without any `$`, (None, None) when it reads a tensor (`$in.channels`)
        self.reads: dict[int, tuple[tuple | None, tuple[str, ...] | None]] = {}
        # by reuse key (Expander.reuse_key): the entry with its structural keys substituted
        self.entries: dict[tuple, dict] = {}
        # the validated attributes (frozen), by (reuse key, local id, training only)
        self.validated: dict[tuple[tuple, str, bool], Any] = {}
        self.read_tensor = self.tensor_shape
        self.good_ids: set[str] = set()  # ids checked already (each copy of a block has them)
        # the source path of each entry of a list, made once: every copy of a block shares them
        self.entry_paths: dict[Path, list[Path]] = {}

    # --- diagnostics -------------------------------------------------------------------------

    def error(self, kind: str, message: str, path: Path, calls: tuple[CallSite, ...] = (),
              hint: str | None = None, key: bool = False) -> None:
        span = self.source.key(path) if key else self.source.value(path)
        self.problems.append(Diagnostic(kind, message, span, call_notes(calls), hint))

    def too_many(self, count: int, why: str, path: Path, calls: tuple[CallSite, ...],
                 what: str = "layers") -> None:
        """Stop the expansion at once: the spec asks for more than the limit allows."""
        raise SpecError([Diagnostic(
            "limit", f"the network would grow to {count:,} {what} ({why}); the limit is "
                     f"{self.max_layers:,}",
            self.source.value(path), call_notes(calls),
            "if the network really is that large, raise the limit: --max-layers N, or "
            "max_layers=N in Python")])

    # --- expansion ---------------------------------------------------------------------------

    def scope(self, entries: list[Any], entries_path: Path, scope: Scope, input_ref: Ref | str,
              args: dict[str, Any], calls: tuple[CallSite, ...], training_only: bool,
              stack: tuple[tuple[str, dict[str, Any]], ...]) -> Ref | str:
        """Expand one list of layer entries; returns a reference to its last output.
        `stack` holds the block instances being made, outermost first, with their arguments."""
        previous: Ref | str = input_ref
        counts: dict[str, int] = {}
        paths = self.entry_paths.get(entries_path)
        if paths is None:
            paths = self.entry_paths[entries_path] = [entries_path + (k,)
                                                      for k in range(len(entries))]
        for path, raw in zip(paths, entries):
            if not isinstance(raw, dict):
                self.error("type", "a layer is a mapping with `op:` (a layer) or `block:` "
                                   f"(a block instance), got {raw!r}", path, calls)
                continue
            key = self.reuse_key(raw, args)
            entry = self.entries.get(key) if key is not None else None
            if entry is None:
                entry = (raw if key is not None and key[1] is None else
                         self.substitute(raw, args, path, calls, scope, only=_STRUCTURAL))
                if entry is None:
                    continue
                if key is not None:
                    self.entries[key] = entry
            kind = entry.get("op") or entry.get("block")
            if "op" in entry and "block" in entry:
                self.error("type", "a layer has either `op` or `block`, not both", path, calls)
                continue
            if not isinstance(kind, str):
                self.error("missing-attribute", "a layer needs `op: <op>` (or `block: <name>`)",
                           path, calls, hint=f"ops: {', '.join(sorted(RULES))}")
                continue
            local = self.local_id(entry, kind, counts, path, scope, calls)
            if local is None:
                continue
            given = entry.get("from")  # most layers read the one before: no call for them
            inputs = [previous] if given is None else self.inputs(given, previous, scope, path)
            enabled = entry.get("if", True)
            if not isinstance(enabled, bool):
                self.error("type", f"`if` must be true or false, got {enabled!r}",
                           path + ("if",), calls)
                continue
            if not enabled:  # skipped: its id names its (first) input
                scope.names[local] = inputs[0]
                previous = Ref(scope, local, path)
                continue
            only = training_only or entry.get("training_only") is True
            # `previous` is what the name stands for, so the next layer needs no lookup
            if "op" in entry:
                qid = previous = scope.names[local] = qualify(scope.prefix, local)
                self.layer(entry, path, scope, local, qid, inputs, args, calls, only, key)
            else:  # the block's output
                previous = scope.names[local] = instantiate(self, raw, entry, path, scope, local,
                                                            inputs, args, calls, only, stack)
        scope.result = previous
        return previous

    def reuse_key(self, raw: dict, args: dict[str, Any]) -> tuple | None:
        """(id of the raw entry, the type and value of each argument it reads): entries with
        the same key substitute and validate alike. (id, None): it has no `$` at all. None:
        it reads a tensor, or an argument whose value cannot be a key (a list)."""
        known = self.reads.get(id(raw))
        if known is None:
            known = self.reads[id(raw)] = (
                ((id(raw), None), None) if not mentions_args(raw) else (None, None)
                if tensor_uses(raw) else (None, tuple(dict.fromkeys(arg_names(raw)))))
        key, names = known
        if names is None:
            return key
        values = tuple(map(args.get, names))  # maps, not a comprehension: compile speed
        key = id(raw), values, tuple(map(type, values))
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def local_id(self, entry: dict, kind: str, counts: dict[str, int], path: Path,
                 scope: Scope, calls: tuple[CallSite, ...]) -> str | None:
        counts[kind] = counts.get(kind, 0) + 1
        given = entry.get("id")
        if given is None:
            if "block" in entry and "repeat" in entry:
                return f"#{kind}_{counts[kind]}"  # copies are numbered straight in the scope
            local = f"{kind}_{counts[kind]}"
        elif not isinstance(given, (str, int)) or isinstance(given, bool):
            self.error("type", f"`id` must be a name, got {given!r}", path + ("id",), calls)
            return None
        else:
            local = str(given)
            if local not in self.good_ids:
                if "." in local or local in RESERVED_NAMES or not local.replace("_", "").replace("-", "").isalnum():
                    self.error("type", f"`{local}` cannot be an id: ids are letters, digits, `_` "
                                       "and `-`; `in` and `input` are reserved; dots join block "
                                       "paths", path + ("id",), calls)
                    return None
                self.good_ids.add(local)
        if local in scope.names:
            self.problems.append(Diagnostic(
                "duplicate-id", f"id '{qualify(scope.prefix, local)}' is defined twice",
                self.source.value(path + ("id",)) if given is not None else self.source.value(path),
                call_notes(calls) + ((self._first_span(scope, local), "first defined here"),),
                "give each layer its own `id`"))
            return None
        scope.paths[local] = path  # its span is looked up only for a duplicate
        return local

    def _first_span(self, scope: Scope, local: str) -> Span | None:
        path = scope.paths.get(local)  # None: a block input of that name
        return None if path is None else self.source.value(path)

    def inputs(self, given: Any, previous: Ref | str, scope: Scope,
               path: Path) -> list[Ref | str]:
        if isinstance(given, (str, int)) and not isinstance(given, bool):
            return [Ref(scope, str(given), path + ("from",))]
        if isinstance(given, list) and given and all(isinstance(g, (str, int)) for g in given):
            return [Ref(scope, str(g), path + ("from", j)) for j, g in enumerate(given)]
        self.error("type", f"`from` must be a layer id or a list of them, got {given!r}",
                   path + ("from",))
        return [previous]

    def layer(self, entry: dict, path: Path, scope: Scope, local: str, qid: str,
              inputs: list[Ref | str],
              args: dict[str, Any], calls: tuple[CallSite, ...], training_only: bool,
              reuse: tuple | None) -> None:
        """`reuse`: the entry's reuse key (Expander.reuse_key), None when it is not reused."""
        key = (reuse, local, training_only)
        attrs = self.validated.get(key) if reuse is not None else None
        if attrs is None:
            attrs = self.validate(entry, path, scope, local, args, calls, training_only,
                                  reuse is not None and reuse[1] is None)
            if attrs is None:
                return
            if reuse is not None:
                self.validated[key] = attrs
        if qid in self.refs.ids:
            self.error("duplicate-id", f"id '{qid}' is defined twice", path, calls,
                       "give the repeated block instance an `id` of its own")
            return
        self.refs.ids[qid] = path
        self.refs.ops[qid] = attrs.op
        if len(self.layers) == self.max_layers:
            self.too_many(len(self.layers) + 1, f"at layer '{qid}'", path, calls)
        self.layers.append((LayerInstance(qid, attrs, (), path, calls), inputs))

    def validate(self, entry: dict, path: Path, scope: Scope, local: str, args: dict[str, Any],
                 calls: tuple[CallSite, ...], training_only: bool, literal: bool) -> Any:
        """The layer's attributes, validated by its op's model; None after an error."""
        data = dict(entry) if literal else self.substitute(entry, args, path, calls, scope)
        if data is None:
            return None
        data.pop("from", None)
        data.pop("if", None)
        data["id"] = local
        if entry["op"] not in RULES:
            hint = unknown_op_hint(entry["op"])
            self.error("unknown-op", f"unknown op `{entry['op']}`", path + ("op",), calls, hint)
            return None
        try:
            attrs = LAYER.validate_python(data)
        except ValidationError as e:
            self.problems.extend(diagnose(e, RULES[entry["op"]].attrs, data, self.source, path,
                                          f"`{entry['op']}`", call_notes(calls),
                                          skip_loc_head=True))
            return None
        if training_only and not attrs.training_only:
            attrs = attrs.model_copy(update={"training_only": True})
        return attrs

    def substitute(self, raw: dict, args: dict[str, Any], path: Path, calls: tuple[CallSite, ...],
                   scope: Scope, only: tuple[str, ...] | None = None) -> dict | None:
        """`raw` with `$arguments` (and `$in.channels`, read in `scope`) replaced, in the keys
        `only` or all; None after an error."""
        self.place = scope, path  # where `$in` is read; one bound reader, not one per call
        out = {}
        for key, value in raw.items():
            try:
                out[key] = (substitute(value, args, self.read_tensor) if only is None or
                            key in only else value)
            except Unavailable:  # a broken layer upstream, reported once already
                return None
            except ExprError as e:
                if e.name in scope.inputs:
                    self.error("expression", f"`${e.name}` is a tensor: read one of its sizes",
                               path + (key,), calls, f"`${e.name}.channels`, `${e.name}.shape`")
                elif e.name:
                    hint = did_you_mean(e.name, args) or (
                        f"arguments here: {', '.join('$' + a for a in args)}" if args else
                        "declare it under the block's `args:`")
                    self.error("block-arg", str(e), path + (key,), calls, hint)
                else:
                    self.error(e.kind, str(e), path + (key,), calls, e.hint)
                return None
        return out

    def release(self, top: Scope) -> None:
        """Break the expansion's reference cycles, so that reference counting frees it now:
        a scope refers to itself (its names, its result) and to its copies, which refer back
        to it, and the resolver and the shape reader hold this expander. Left to the cycle
        collector, densenet201's 3,500 objects cost its next collection 0.45 ms."""
        scopes = [top]
        while scopes:
            scope = scopes.pop()
            for made in scope.instances.values():
                scopes.extend(made if isinstance(made, list) else (made,))
            scope.names.clear()
            scope.instances.clear()
            scope.outputs.clear()
            scope.result = None
        self.__dict__.clear()

    def tensor_shape(self, name: str, text: str) -> Shape:
        """The shape of the input `$name` where an expression `text` is being evaluated."""
        scope, path = self.place
        if name not in scope.inputs:
            where = ("the block's inputs are " + ", ".join(f"`${n}`" for n in scope.inputs)
                     if scope.prefix else "at the top level the network input is `$input`")
            raise ExprError(f"`{text}`: there is no input `${name}` here", hint=where)
        if self.shapes is None:
            self.shapes = EarlyShapes(self.input_shape, self.layers, self.refs, self.source)
        return self.shapes.of(Ref(scope, name, path), text)


def expand(doc: SpecDoc, source: SourceMap, max_layers: int = MAX_LAYERS,
           input_shape: Shape | None = None) -> Network:
    """The flat network a spec describes, for `input_shape` (default: the spec's `input`);
    raises SpecError/GraphError/ShapeError with every problem found, or at once when the
    network grows past `max_layers` layers."""
    shape = tuple(input_shape or doc.input)
    ex = Expander(doc, source, max_layers, shape)
    ex.bad_blocks = check_blocks(doc, ex.error)
    top = Scope("", inputs=(INPUT_ID,))
    top.names[INPUT_ID] = INPUT_ID
    last = ex.scope(doc.layers, ("layers",), top, INPUT_ID, {}, (), False, ())
    early = ex.shapes.problems if ex.shapes else []
    if ex.problems:
        raise SpecError(ex.problems)
    if early:
        raise ShapeError(early)
    layers, broken = [], set()
    known_inputs = ex.shapes.inputs if ex.shapes else {}  # resolved while reading shapes
    for instance, refs in ex.layers:
        ids = known_inputs.get(instance.id)
        if ids is not None:
            instance.inputs = tuple(ids)
            layers.append(instance)
            continue
        resolved = [ex.refs.resolve(r) for r in refs]
        if None in resolved:
            broken.add(instance.id)
        instance.inputs = (tuple(resolved[0]) if len(resolved) == 1 and resolved[0] else
                           tuple(i for r in resolved if r is not None for i in r))
        layers.append(instance)
    if doc.outputs is None:
        outputs = [ex.refs.resolve(last)]
    else:
        outputs = [ex.refs.resolve(Ref(top, name, ("outputs", j)))
                   for j, name in enumerate(doc.outputs)]
    if doc.outputs is None and outputs == [[INPUT_ID]]:
        ex.error("arity", "the network has no layers that run", ("layers",))
    for j, output in enumerate(outputs if doc.outputs is not None else ()):
        if output is not None and INPUT_ID in output:
            ex.error("reference", "an output must be a layer, not the network input",
                     ("outputs", j), hint="name the layer whose result you want")
    known = {n: s for n, s in ex.shapes.shapes.items() if s is not None} if ex.shapes else {}
    net = Network(doc.name, doc.doc, shape, layers,
                  [o for found in outputs if found is not None for o in found], source,
                  ex.problems, broken, reads_shapes=ex.shapes is not None, known_shapes=known)
    ex.release(top)
    return net
