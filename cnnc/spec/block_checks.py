"""Checks of every block definition, made once whether or not an instance reaches it: a `$name`
that is not an argument, a default that uses a later argument, a block that instantiates itself
with no `if:` on the way to end it, a named output that cannot be a name. Instances of a block
found bad here are not expanded, so each mistake is reported once."""

from __future__ import annotations

from collections.abc import Callable

from cnnc.errors import did_you_mean
from cnnc.spec.expr import arg_names, has_args
from cnnc.spec.load import Path
from cnnc.spec.schema import SpecDoc


def check_blocks(doc: SpecDoc, error: Callable[..., None]) -> set[str]:
    """Report through `error(kind, message, path, hint=...)`; returns the names of bad blocks."""
    bad: set[str] = set()
    # block -> the blocks it instantiates unconditionally (no `if:` with `$` on the instance)
    calls: dict[str, list[tuple[str, Path]]] = {}
    for name, block in doc.blocks.items():
        calls[name] = []
        for j, (arg, default) in enumerate(block.args.items()):
            earlier = list(block.args)[:j]
            for used in sorted(set(arg_names(default)) - set(earlier)):
                error("block-arg", f"the default of `{arg}` uses `${used}`, which is not an "
                                   f"earlier argument of `{name}`", ("blocks", name, "args", arg),
                      hint="a default may use the arguments declared before it")
                bad.add(name)
        for k, entry in enumerate(block.layers):
            path = ("blocks", name, "layers", k)
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("block"), str) and not has_args(entry.get("if")):
                calls[name].append((entry["block"], path + ("block",)))
            for key, value in entry.items():
                # a block input alone (`$in`) is refused where it is used, with a better hint
                known = set(block.args) | set(block.inputs) | (
                    {"i"} if "repeat" in entry and "block" in entry
                    and key not in ("repeat", "from", "if") else set())
                for arg in sorted(set(arg_names(value)) - known):
                    hint = did_you_mean(arg, block.args) or (
                        f"`{name}` takes: {', '.join('$' + a for a in block.args)}"
                        if block.args else f"declare it under `blocks: {name}: args:`")
                    error("block-arg", f"block `{name}` has no argument `${arg}`", path + (key,),
                          hint=hint)
                    bad.add(name)
        if isinstance(block.outputs, dict):
            for key in block.outputs:
                if "." in key or not key.replace("_", "").replace("-", "").isalnum():
                    error("type", f"`{key}` cannot name an output of `{name}`: names are "
                                  "letters, digits, `_` and `-`", ("blocks", name, "outputs", key),
                          hint="dots join block paths", key=True)
                    bad.add(name)
    for start, uses in calls.items():
        cycle = _find_cycle(start, calls)
        if cycle and cycle[0] == start and start == min(cycle[:-1]):
            path = next(p for b, p in uses if b == cycle[1])
            error("recursion", f"block `{start}` instantiates itself: {' -> '.join(cycle)}", path,
                  hint="a block may instantiate itself only where an `if:` on its arguments "
                       "ends the recursion (`if: \"$depth > 1\"`)")
        if cycle:
            bad.add(start)
    return bad


def _find_cycle(start: str, calls: dict[str, list[tuple[str, Path]]]) -> list[str] | None:
    """A path of block calls from `start` back to `start`, if there is one."""
    stack, seen = [(start, [start])], set()
    while stack:
        name, trail = stack.pop()
        for callee, _ in calls.get(name, ()):
            if callee == start:
                return trail + [start]
            if callee not in seen:
                seen.add(callee)
                stack.append((callee, trail + [callee]))
    return None
