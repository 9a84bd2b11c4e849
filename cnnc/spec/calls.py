"""Block instances: arguments, `repeat:` copies, named outputs, and bounded recursion.

A block may instantiate itself when an `if:` on its arguments ends the recursion (checked in
cnnc/spec/block_checks.py); how deep it may go is MAX_RECURSION, and a recursion that does not
end is stopped there with the chain of instances and their arguments.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import ValidationError

from cnnc.errors import Diagnostic, SpecError, did_you_mean
from cnnc.spec.diagnose import diagnose
from cnnc.spec.limits import MAX_RECURSION
from cnnc.spec.load import Path, SourceMap
from cnnc.spec.network import CallSite, call_notes, qualify
from cnnc.spec.refs import GATHER, Ref, References, Scope
from cnnc.spec.schema import BlockCall, BlockDef, SpecDoc

Stack = tuple[tuple[str, dict[str, Any]], ...]


class Expander(Protocol):
    """What a block instance needs of the expansion (cnnc/spec/expand.py's Expander), named
    here so that the two modules do not import each other."""

    doc: SpecDoc
    source: SourceMap
    max_layers: int
    problems: list[Diagnostic]
    layers: list
    refs: References
    bad_blocks: set[str]
    copies: int

    def error(self, kind: str, message: str, path: Path, calls: tuple[CallSite, ...] = (),
              hint: str | None = None, key: bool = False) -> None: ...

    def too_many(self, count: int, why: str, path: Path, calls: tuple[CallSite, ...],
                 what: str = "layers") -> None: ...

    def scope(self, entries: list[Any], entries_path: Path, scope: Scope, input_ref: Ref | str,
              args: dict[str, Any], calls: tuple[CallSite, ...], training_only: bool,
              stack: Stack) -> Ref | str: ...

    def substitute(self, raw: dict, args: dict[str, Any], path: Path, calls: tuple[CallSite, ...],
                   scope: Scope, only: tuple[str, ...] | None = None) -> dict | None: ...


def instantiate(ex: Expander, raw: dict, entry: dict, path: Path, scope: Scope, local: str,
                inputs: list[Ref | str], args: dict[str, Any], calls: tuple[CallSite, ...],
                training_only: bool, stack: Stack) -> Ref | str:
    """Expand the block instance `entry` (written as `raw`) in `scope`; returns its output."""
    name = entry["block"]
    fallback = inputs[0]
    block = ex.doc.blocks.get(name)
    if block is None:
        hint = did_you_mean(name, ex.doc.blocks) or (
            f"blocks: {', '.join(ex.doc.blocks)}" if ex.doc.blocks else
            "define it under `blocks:`")
        ex.error("unknown-block", f"unknown block `{name}`", path + ("block",), calls, hint)
        return fallback
    if name in ex.bad_blocks:
        return fallback
    gathered = next((r for r in inputs if type(r) is Ref and GATHER in r.name.split(".")),
                    None)
    if gathered is not None:
        ex.error("reference", f"a block instance cannot take '{gathered.name}': `*` gathers "
                              "into one layer's inputs", gathered.path, calls,
                 "gather into a layer first (add, concat) and give the block its output")
        return fallback
    if len(inputs) != len(block.inputs):
        names = ", ".join(f"`{n}`" for n in block.inputs)
        ex.error("arity", f"block `{name}` takes {len(block.inputs)} input"
                          f"{'s' * (len(block.inputs) > 1)} ({names}), got {len(inputs)}",
                 path + ("from",), calls,
                 f"list {len(block.inputs)} layer ids in `from:`" if len(block.inputs) > 1
                 else "merge the inputs first (add, concat)")
        return fallback
    counted = ex.substitute({"repeat": raw.get("repeat", 1)}, args, path, calls, scope)
    if counted is None:
        return fallback
    repeat = counted["repeat"]
    if not isinstance(repeat, int) or isinstance(repeat, bool):
        ex.error("type", f"`repeat` must be an integer >= 0 or an expression with `$`; got "
                         f"{repeat!r}", path + ("repeat",), calls)
        return fallback
    if repeat > ex.max_layers:  # even copies without layers cost a step each
        ex.too_many(repeat, f"`repeat: {repeat:,}` of block `{name}`", path + ("repeat",), calls)
    header = {k: v for k, v in entry.items() if k in BlockCall.model_fields or k in
              ("from", "if", "block", "id")} | {"repeat": repeat}
    try:
        BlockCall.model_validate({k: v for k, v in header.items() if k != "from"})
    except ValidationError as e:
        ex.problems.extend(diagnose(e, BlockCall, header, ex.source, path,
                                    f"block instance of `{name}`", call_notes(calls)))
        return fallback
    given = {k: v for k, v in raw.items() if k not in BlockCall.model_fields and
             k not in ("from", "if", "block")}
    if not check_args(ex, name, block.args, given, path, calls):
        return fallback
    numbered, repeated = local.startswith("#"), "repeat" in raw
    if repeated and not numbered:
        scope.instances[local] = []
    output: Ref | str = fallback
    before = len(ex.layers)
    span = ex.source.value(path)
    for copy in range(repeat):
        if copy == 1:  # the first copy's size says what the others will ask for
            expected = len(ex.layers) + (len(ex.layers) - before) * (repeat - 1)
            if expected > ex.max_layers:
                ex.too_many(expected, f"{repeat:,} copies of block `{name}`, "
                                      f"{len(ex.layers) - before:,} layers each",
                            path + ("repeat",), calls)
        ex.copies += 1
        if ex.copies > ex.max_layers:
            ex.too_many(ex.copies, f"instances of block `{name}`", path, calls, "block copies")
        values = ex.substitute(given, args | {"i": copy}, path, calls, scope)
        if values is None:
            return fallback
        instance = str(copy) if numbered else (f"{local}.{copy}" if repeated else local)
        child = Scope(qualify(scope.prefix, instance), tuple(block.inputs))
        # the first input runs through the copies; any others reach every copy
        child.names |= dict(zip(block.inputs, [output, *inputs[1:]]))
        site = CallSite(name, child.prefix, span)
        for arg, default in block.args.items():  # defaults may use earlier arguments
            if arg not in values:
                if not isinstance(default, (str, list, dict)):  # a number or a flag: as it is
                    values[arg] = default
                    continue
                got = ex.substitute({arg: default}, values, ("blocks", name, "args"),
                                    calls + (site,), child)
                if got is None:
                    return fallback
                values |= got
        level = (name, {k: values[k] for k in given})
        check_depth(ex, stack, level, path, calls)
        output = ex.scope(block.layers, ("blocks", name, "layers"), child, output, values,
                          calls + (site,), training_only, stack + (level,))
        expose(ex, block, name, child, calls + (site,))
        if repeated and not numbered:
            scope.instances[local].append(child)
        else:
            scope.instances[instance] = child
    return output


def check_depth(ex: Expander, stack: Stack, level: tuple[str, dict[str, Any]], path: Path,
                calls: tuple[CallSite, ...]) -> None:
    """Stop at once when a block sits inside itself more than MAX_RECURSION times: an `if:`
    meant to end the recursion never turns false."""
    name = level[0]
    if len(stack) < MAX_RECURSION or sum(lv[0] == name for lv in stack) < MAX_RECURSION:
        return
    first = next(j for j, lv in enumerate(stack) if lv[0] == name)
    levels = [_level_text(lv) for lv in (*stack[first:], level)]
    if len(levels) > 6:
        levels = [*levels[:3], f"... ({len(levels) - 5} more)", *levels[-2:]]
    outer = [c for c in calls if c.block == name][:1]
    raise SpecError([Diagnostic(
        "recursion", f"block `{name}` instantiates itself more than {MAX_RECURSION} levels "
                     f"deep: {' -> '.join(levels)}",
        ex.source.value(path + ("if",)), call_notes(tuple(outer)),
        "make the `if:` of the instance turn false on the way down (`if: \"$depth > 1\"` "
        "with `depth: \"$depth - 1\"`)")])


def _level_text(level: tuple[str, dict[str, Any]]) -> str:
    name, values = level
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in values.items())})"


def expose(ex: Expander, block: BlockDef, name: str, child: Scope,
           calls: tuple[CallSite, ...]) -> None:
    """Bind the block's named outputs in the body of one copy, for `<instance>.<output>`."""
    for key, target, where in block.named_outputs():
        path = ("blocks", name, "outputs", where)
        if target.split(".")[0] not in child.names:
            if path not in ex.refs.reported:
                ex.refs.reported.add(path)
                ex.error("reference", f"output `{key}` of block `{name}` names '{target}', "
                                      "which is not in the block", path, calls,
                         did_you_mean(target, [n for n in child.names if n[:1] != "#"]))
            continue
        child.outputs[key] = Ref(child, target, path)


def check_args(ex: Expander, name: str, declared: dict[str, Any], given: dict[str, Any],
               path: Path, calls: tuple[CallSite, ...]) -> bool:
    ok = True
    for arg in given:
        if arg not in declared:
            hint = did_you_mean(arg, declared) or (
                f"`{name}` takes: {', '.join(declared)}" if declared else
                f"`{name}` takes no arguments")
            ex.error("block-arg", f"block `{name}` has no argument `{arg}`",
                     path + (arg,), calls, hint, key=True)
            ok = False
    for arg, default in declared.items():
        if default is None and arg not in given:
            ex.error("block-arg", f"block `{name}` needs argument `{arg}`", path, calls,
                     f"add `{arg}: <value>` to this instance")
            ok = False
    return ok
