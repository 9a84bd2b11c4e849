"""Turn pydantic validation errors into positioned, readable diagnostics.

Pydantic knows what is wrong but not where it was written; the source map knows where. Errors for
one attribute are merged (a union reports once per member) into a single line that says what was
expected and what was given.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Iterable

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ValidationError

from cnnc.errors import Diagnostic, did_you_mean
from cnnc.spec.load import Path, SourceMap


def describe(annotation: Any, metadata: list[Any] = ()) -> str:
    """A type annotation in words: `an integer > 0, or a list of integers > 0`."""
    if metadata:
        return describe(typing.Annotated[(annotation, *metadata)])
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [describe(a) for a in typing.get_args(annotation) if a is not type(None)]
        return ", or ".join(dict.fromkeys(parts))
    if origin is typing.Literal:
        return " or ".join(f"`{v}`" for v in typing.get_args(annotation))
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        bounds = [_bound(m) for m in meta if _bound(m)]
        return f"{describe(base)} {' '.join(bounds)}".strip()
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        items = describe(item)
        for one, many in _PLURALS:
            items = items.replace(one, many)
        return f"a list of ({items})" if " or " in items else f"a list of {items}"
    if origin is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


_PLURALS = (("an integer", "integers"), ("a number", "numbers"), ("a string", "strings"),
            ("a list of", "lists of"))


def _bound(meta: Any) -> str | None:
    for cls, symbol, attr in ((Gt, ">", "gt"), (Ge, ">=", "ge"), (Lt, "<", "lt"), (Le, "<=", "le")):
        if isinstance(meta, cls):
            return f"{symbol} {getattr(meta, attr)}"
    return None


def _fields_by_key(model: type[BaseModel]) -> dict[str, Any]:
    """Fields of a model under the names users write (aliases such as `from`, `in`)."""
    return {(f.alias or name): f for name, f in model.model_fields.items()}


def _given(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def diagnose(error: ValidationError, model: type[BaseModel], data: dict[str, Any],
             source: SourceMap, path: Path, what: str, notes: tuple = (),
             skip_loc_head: bool = False) -> Iterable[Diagnostic]:
    """Diagnostics for `data` (written at `path`) failing `model`; `what` names it in messages."""
    fields = _fields_by_key(model)
    seen: set[str] = set()
    for e in error.errors():
        loc = e["loc"][1:] if skip_loc_head else e["loc"]
        key = str(loc[0]) if loc else ""
        if key in seen:
            continue
        seen.add(key)
        if e["type"] == "extra_forbidden":
            hint = did_you_mean(key, fields) or f"{what} accepts: {', '.join(sorted(fields))}"
            yield Diagnostic("unknown-attribute", f"{what} has no attribute `{key}`",
                             source.key(path + (key,)), notes, hint)
        elif e["type"] == "missing":
            yield Diagnostic("missing-attribute", f"{what} needs `{key}`", source.value(path),
                             notes, f"add `{key}: <{describe(fields[key].annotation, fields[key].metadata)}>`")
        else:
            field = fields.get(key)
            expected = describe(field.annotation, field.metadata) if field else e["msg"]
            constraint = "" if e["type"].endswith("_type") else f" ({e['msg'].lower()})"
            yield Diagnostic("type", f"`{key}` of {what} must be {expected}; got "
                                     f"{_given(data.get(key))}{constraint}",
                             source.value(path + (key,)), notes)

