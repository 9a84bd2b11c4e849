"""Expand blocks, `repeat:` and `$arguments` into a flat list of layer instances.

Each instance gets a qualified id (`stage3.1.conv2`), validated attributes, the ids of its inputs,
and the source path of the mapping it came from, so later passes can point at the YAML.

References (`from:`) are resolved after everything is expanded, so a layer may name one defined
further down, and a skipped layer (`if: false`) simply passes its input on under its own id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from cnnc.errors import Diagnostic, Span, SpecError, did_you_mean
from cnnc.ops import RULES
from cnnc.ops.base import LayerAttrs
from cnnc.spec.block_checks import check_blocks
from cnnc.spec.diagnose import diagnose
from cnnc.spec.expr import ExprError, substitute
from cnnc.spec.limits import MAX_LAYERS
from cnnc.spec.load import Path, SourceMap
from cnnc.spec.op_names import unknown_op_hint
from cnnc.spec.schema import LAYER, RESERVED_NAMES, BlockCall, SpecDoc

INPUT_ID = "input"
_STRUCTURAL = ("id", "from", "if", "training_only", "op", "block")


@dataclass(frozen=True)
class CallSite:
    """Where a block instance was made: `stage3.1`, an instance of `bottleneck`, at a span."""

    block: str
    instance: str
    span: Span | None


@dataclass
class LayerInstance:
    id: str
    attrs: LayerAttrs
    inputs: tuple[str, ...]
    path: Path                       # source path of the layer's mapping
    calls: tuple[CallSite, ...] = ()  # block instances it sits in, outermost first

    @property
    def op(self) -> str:
        return self.attrs.op


@dataclass
class Network:
    """A spec after expansion: what `ir.build` turns into a graph."""

    name: str
    doc: str | None
    input_shape: tuple[int, ...]
    layers: list[LayerInstance]
    outputs: list[str]
    source: SourceMap
    reference_errors: list[Diagnostic] = field(default_factory=list)  # checked with the graph
    broken: set[str] = field(default_factory=set)  # layers with an unresolved input


@dataclass(eq=False)
class _Scope:
    prefix: str
    names: dict[str, str | _Ref] = field(default_factory=dict)
    spans: dict[str, Span | None] = field(default_factory=dict)


@dataclass(eq=False)
class _Ref:
    """A name used in a scope, resolved to a node id once everything is expanded."""

    scope: _Scope
    name: str
    path: Path


def qualify(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


class _Expander:
    def __init__(self, doc: SpecDoc, source: SourceMap, max_layers: int):
        self.doc, self.source, self.max_layers = doc, source, max_layers
        self.problems: list[Diagnostic] = []
        self.layers: list[tuple[LayerInstance, list[_Ref]]] = []
        self.ids: dict[str, Path] = {INPUT_ID: ()}
        self.bad_blocks: set[str] = set()  # reported once by check_blocks, not per instance
        self.unknown_paths: set[Path] = set()  # `from` references reported already

    # --- diagnostics -------------------------------------------------------------------------

    def error(self, kind: str, message: str, path: Path, calls: tuple[CallSite, ...] = (),
              hint: str | None = None, key: bool = False) -> None:
        span = self.source.key(path) if key else self.source.value(path)
        self.problems.append(Diagnostic(kind, message, span, call_notes(calls), hint))

    def too_many(self, count: int, why: str, path: Path, calls: tuple[CallSite, ...]) -> None:
        """Stop the expansion at once: the spec asks for more layers than the limit."""
        raise SpecError([Diagnostic(
            "limit", f"the network would grow to {count:,} layers ({why}); the limit is "
                     f"{self.max_layers:,}",
            self.source.value(path), call_notes(calls),
            "if the network really is that large, raise the limit: --max-layers N, or "
            "max_layers=N in Python")])

    # --- expansion ---------------------------------------------------------------------------

    def scope(self, entries: list[Any], entries_path: Path, scope: _Scope, input_ref: _Ref | str,
              args: dict[str, Any], calls: tuple[CallSite, ...], training_only: bool,
              stack: tuple[str, ...]) -> _Ref | str:
        """Expand one list of layer entries; returns a reference to its last output."""
        previous: _Ref | str = input_ref
        counts: dict[str, int] = {}
        for k, raw in enumerate(entries):
            path = entries_path + (k,)
            if not isinstance(raw, dict):
                self.error("type", "a layer is a mapping with `op:` (a layer) or `block:` "
                                   f"(a block instance), got {raw!r}", path, calls)
                continue
            entry = self.substitute(raw, args, path, calls, only=_STRUCTURAL)
            if entry is None:
                continue
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
            inputs = self.refs(entry.get("from"), previous, scope, path)
            enabled = entry.get("if", True)
            if not isinstance(enabled, bool):
                self.error("type", f"`if` must be true or false, got {enabled!r}",
                           path + ("if",), calls)
                continue
            if not enabled:  # skipped: its id names its (first) input
                scope.names[local] = inputs[0]
                previous = _Ref(scope, local, path)
                continue
            only = training_only or entry.get("training_only") is True
            if "op" in entry:
                self.layer(raw, entry, path, scope, local, inputs, args, calls, only)
                scope.names[local] = qualify(scope.prefix, local)
            else:
                scope.names[local] = self.call(raw, entry, path, scope, local, inputs, args,
                                               calls, only, stack)
            previous = _Ref(scope, local, path)
        return previous

    def local_id(self, entry: dict, kind: str, counts: dict[str, int], path: Path,
                 scope: _Scope, calls: tuple[CallSite, ...]) -> str | None:
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
            if "." in local or local in RESERVED_NAMES or not local.replace("_", "").replace("-", "").isalnum():
                self.error("type", f"`{local}` cannot be an id: ids are letters, digits, `_` and "
                                   f"`-`; `in` and `input` are reserved; dots join block paths",
                           path + ("id",), calls)
                return None
        if local in scope.names:
            self.problems.append(Diagnostic(
                "duplicate-id", f"id '{qualify(scope.prefix, local)}' is defined twice",
                self.source.value(path + ("id",)) if given is not None else self.source.value(path),
                call_notes(calls) + ((scope.spans.get(local), "first defined here"),),
                "give each layer its own `id`"))
            return None
        scope.spans[local] = self.source.value(path)
        return local

    def refs(self, given: Any, previous: _Ref | str, scope: _Scope, path: Path) -> list[_Ref]:
        if given is None:
            return [previous if isinstance(previous, _Ref) else _Ref(scope, INPUT_ID, path)]
        if isinstance(given, (str, int)) and not isinstance(given, bool):
            return [_Ref(scope, str(given), path + ("from",))]
        if isinstance(given, list) and given and all(isinstance(g, (str, int)) for g in given):
            return [_Ref(scope, str(g), path + ("from", j)) for j, g in enumerate(given)]
        self.error("type", f"`from` must be a layer id or a list of them, got {given!r}",
                   path + ("from",))
        return [previous if isinstance(previous, _Ref) else _Ref(scope, INPUT_ID, path)]

    def layer(self, raw: dict, entry: dict, path: Path, scope: _Scope, local: str,
              inputs: list[_Ref], args: dict[str, Any], calls: tuple[CallSite, ...],
              training_only: bool) -> None:
        data = self.substitute(entry, args, path, calls)
        if data is None:
            return
        data.pop("from", None)
        data.pop("if", None)
        data["id"] = local
        if entry["op"] not in RULES:
            hint = unknown_op_hint(entry["op"])
            self.error("unknown-op", f"unknown op `{entry['op']}`", path + ("op",), calls, hint)
            return
        try:
            attrs = LAYER.validate_python(data)
        except ValidationError as e:
            self.problems.extend(diagnose(e, RULES[entry["op"]].attrs, data, self.source, path,
                                          f"`{entry['op']}`", call_notes(calls),
                                          skip_loc_head=True))
            return
        if training_only and not attrs.training_only:
            attrs = attrs.model_copy(update={"training_only": True})
        qid = qualify(scope.prefix, local)
        if qid in self.ids:
            self.error("duplicate-id", f"id '{qid}' is defined twice", path, calls,
                       "give the repeated block instance an `id` of its own")
            return
        self.ids[qid] = path
        if len(self.layers) == self.max_layers:
            self.too_many(len(self.layers) + 1, f"at layer '{qid}'", path, calls)
        self.layers.append((LayerInstance(qid, attrs, (), path, calls), inputs))

    def call(self, raw: dict, entry: dict, path: Path, scope: _Scope, local: str,
             inputs: list[_Ref], args: dict[str, Any], calls: tuple[CallSite, ...],
             training_only: bool, stack: tuple[str, ...]) -> _Ref | str:
        name = entry["block"]
        fallback = inputs[0]
        block = self.doc.blocks.get(name)
        if block is None:
            hint = did_you_mean(name, self.doc.blocks) or (
                f"blocks: {', '.join(self.doc.blocks)}" if self.doc.blocks else
                "define it under `blocks:`")
            self.error("unknown-block", f"unknown block `{name}`", path + ("block",), calls, hint)
            return fallback
        if name in self.bad_blocks:
            return fallback
        if name in stack:
            cycle = " -> ".join(stack[stack.index(name):] + (name,))
            self.error("recursion", f"block `{name}` instantiates itself: {cycle}", path, calls,
                       "blocks may use other blocks, but not in a loop")
            return fallback
        if len(inputs) != len(block.inputs):
            names = ", ".join(f"`{n}`" for n in block.inputs)
            self.error("arity", f"block `{name}` takes {len(block.inputs)} input"
                                f"{'s' * (len(block.inputs) > 1)} ({names}), got {len(inputs)}",
                       path + ("from",), calls,
                       f"list {len(block.inputs)} layer ids in `from:`" if len(block.inputs) > 1
                       else "merge the inputs first (add, concat)")
            return fallback
        counted = self.substitute({"repeat": raw.get("repeat", 1)}, args, path, calls)
        if counted is None:
            return fallback
        repeat = counted["repeat"]
        if not isinstance(repeat, int) or isinstance(repeat, bool):
            self.error("type", f"`repeat` must be an integer >= 0 or an expression with `$`; got "
                               f"{repeat!r}", path + ("repeat",), calls)
            return fallback
        if repeat > self.max_layers:  # even copies without layers cost a step each
            self.too_many(repeat, f"`repeat: {repeat:,}` of block `{name}`", path + ("repeat",),
                          calls)
        header = {k: v for k, v in entry.items() if k in BlockCall.model_fields or k in
                  ("from", "if", "block", "id")} | {"repeat": repeat}
        try:
            BlockCall.model_validate({k: v for k, v in header.items() if k != "from"})
        except ValidationError as e:
            self.problems.extend(diagnose(e, BlockCall, header, self.source, path,
                                          f"block instance of `{name}`", call_notes(calls)))
            return fallback
        given = {k: v for k, v in raw.items() if k not in BlockCall.model_fields and
                 k not in ("from", "if", "block")}
        if not self.check_args(name, block.args, given, path, calls):
            return fallback
        numbered = local.startswith("#")
        output: _Ref | str = fallback
        before = len(self.layers)
        for copy in range(repeat):
            if copy == 1:  # the first copy's size says what the others will ask for
                expected = len(self.layers) + (len(self.layers) - before) * (repeat - 1)
                if expected > self.max_layers:
                    self.too_many(expected, f"{repeat:,} copies of block `{name}`, "
                                            f"{len(self.layers) - before:,} layers each",
                                  path + ("repeat",), calls)
            values = self.substitute(given, args | {"i": copy}, path, calls)
            if values is None:
                return fallback
            for arg, default in block.args.items():  # defaults may use earlier arguments
                if arg not in values:
                    values |= self.substitute({arg: default}, values, ("blocks", name, "args"),
                                              calls) or {arg: default}
            instance = str(copy) if numbered else (f"{local}.{copy}" if "repeat" in raw else local)
            child = _Scope(qualify(scope.prefix, instance))
            # the first input runs through the copies; any others reach every copy
            child.names |= dict(zip(block.inputs, [output, *inputs[1:]]))
            site = CallSite(name, child.prefix, self.source.value(path))
            output = self.scope(block.layers, ("blocks", name, "layers"), child, output,
                                values, calls + (site,), training_only, stack + (name,))
        return output

    def check_args(self, name: str, declared: dict[str, Any], given: dict[str, Any], path: Path,
                   calls: tuple[CallSite, ...]) -> bool:
        ok = True
        for arg in given:
            if arg not in declared:
                hint = did_you_mean(arg, declared) or (
                    f"`{name}` takes: {', '.join(declared)}" if declared else
                    f"`{name}` takes no arguments")
                self.error("block-arg", f"block `{name}` has no argument `{arg}`",
                           path + (arg,), calls, hint, key=True)
                ok = False
        for arg, default in declared.items():
            if default is None and arg not in given:
                self.error("block-arg", f"block `{name}` needs argument `{arg}`", path, calls,
                           f"add `{arg}: <value>` to this instance")
                ok = False
        return ok

    def substitute(self, raw: dict, args: dict[str, Any], path: Path,
                   calls: tuple[CallSite, ...], only: tuple[str, ...] | None = None) -> dict | None:
        """`raw` with `$arguments` replaced (in the keys `only`, or all); None after an error."""
        out = {}
        for key, value in raw.items():
            try:
                out[key] = substitute(value, args) if only is None or key in only else value
            except ExprError as e:
                if e.name:
                    hint = did_you_mean(e.name, args) or (
                        f"arguments here: {', '.join('$' + a for a in args)}" if args else
                        "declare it under the block's `args:`")
                    self.error("block-arg", str(e), path + (key,), calls, hint)
                else:
                    self.error("expression", str(e), path + (key,), calls)
                return None
        return out

    # --- resolution --------------------------------------------------------------------------

    def resolve(self, ref: _Ref | str) -> str | None:
        seen: set[int] = set()
        while isinstance(ref, _Ref):
            if id(ref) in seen:
                self.error("cycle", f"'{ref.name}' is skipped and refers back to itself", ref.path)
                return None
            seen.add(id(ref))
            scope, name = ref.scope, ref.name
            if name == INPUT_ID and not scope.prefix:
                return INPUT_ID
            target = scope.names.get(name)
            if target is None:
                qualified = qualify(scope.prefix, name)
                if qualified in self.ids:
                    return qualified
                if "." in name:  # `pool1.indices`: an extra output of a layer
                    return self.extra_output(ref)
                self.unknown_reference(ref)
                return None
            ref = target
        return ref

    def extra_output(self, ref: _Ref) -> str | None:
        """`<layer>.<output>` as "<qualified id>.<output>" when the layer's rule declares that
        output (Rule.outputs); a reference error otherwise."""
        head, tail = ref.name.rsplit(".", 1)
        qid = self.resolve(_Ref(ref.scope, head, ref.path))
        if qid is None:
            return None
        op = next((layer.op for layer, _ in self.layers if layer.id == qid), None)
        outputs = RULES[op].outputs if op else ()
        if tail in outputs:
            return f"{qid}.{tail}"
        if outputs:
            hint = did_you_mean(tail, outputs) or f"its outputs: {', '.join(outputs)}"
        else:
            hint = "extra outputs: " + "; ".join(
                f"{o} has {', '.join(r.outputs)}" for o, r in sorted(RULES.items()) if r.outputs)
        self.error("reference", f"'{head}' ({op or 'the network input'}) has no output '{tail}'",
                   ref.path, hint=hint)
        return None

    def unknown_reference(self, ref: _Ref) -> None:
        """Report a `from` that names nothing, once per place in the file: the same mistake in
        every copy of a repeated block is one mistake."""
        if ref.path in self.unknown_paths:
            return
        self.unknown_paths.add(ref.path)
        scope = ref.scope
        local = [n for n in scope.names if not n.startswith("#")]
        nested = [i[len(scope.prefix) + 1:] if scope.prefix else i for i in self.ids
                  if i.startswith(scope.prefix)]
        where = f"in '{scope.prefix}'" if scope.prefix else "at the top level"
        hint = did_you_mean(ref.name, local + nested) or (
            "`in` is the block input" if scope.prefix else "`input` is the network input")
        self.error("reference", f"unknown layer '{ref.name}' {where}", ref.path, hint=hint)


def call_notes(calls: tuple[CallSite, ...]) -> tuple[tuple[Span | None, str], ...]:
    return tuple((site.span, f"in '{site.instance}', an instance of block `{site.block}`")
                 for site in reversed(calls))


def expand(doc: SpecDoc, source: SourceMap, max_layers: int = MAX_LAYERS) -> Network:
    """The flat network a spec describes; raises SpecError/GraphError with every problem found,
    or at once when the network grows past `max_layers` layers."""
    ex = _Expander(doc, source, max_layers)
    ex.bad_blocks = check_blocks(doc, ex.error)
    top = _Scope("")
    top.names[INPUT_ID] = INPUT_ID
    last = ex.scope(doc.layers, ("layers",), top, INPUT_ID, {}, (), False, ())
    if ex.problems:
        raise SpecError(ex.problems)
    layers, broken = [], set()
    for instance, refs in ex.layers:
        resolved = tuple(ex.resolve(r) for r in refs)
        instance.inputs = tuple(r for r in resolved if r is not None)
        if None in resolved:
            broken.add(instance.id)
        layers.append(instance)
    if doc.outputs is None:
        outputs = [ex.resolve(last)]
    else:
        outputs = [ex.resolve(_Ref(top, name, ("outputs", j))) for j, name in enumerate(doc.outputs)]
    if doc.outputs is None and outputs == [INPUT_ID]:
        ex.error("arity", "the network has no layers that run", ("layers",))
    for j, output in enumerate(outputs if doc.outputs is not None else ()):
        if output == INPUT_ID:
            ex.error("reference", "an output must be a layer, not the network input",
                     ("outputs", j), hint="name the layer whose result you want")
    return Network(doc.name, doc.doc, tuple(doc.input), layers,
                   [o for o in outputs if o is not None], source, ex.problems, broken)
