"""Turn pydantic validation errors into positioned, readable diagnostics.

Pydantic knows what is wrong but not where it was written; the source map knows where. Errors for
one attribute are merged (a union reports once per member) into a single line that says what was
expected and what was given.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable
from typing import Any

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
    """A value as the user wrote it, cut to one readable line."""
    text = f"'{value}'" if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _locate(model: type[BaseModel], loc: tuple) -> tuple[tuple, type[BaseModel], str]:
    """Follow a pydantic error location through nested models (`blocks: {name: BlockDef}`).

    Returns the data path to the innermost model that holds the error, that model, and the key
    at fault; union-member labels such as 'constrained-int' after the key are dropped.
    """
    path: tuple = ()
    i = 0
    while i < len(loc):
        part, fields = loc[i], _fields_by_key(model)
        inner = _nested_model(fields[part].annotation) if part in fields else None
        if inner is None or i + 2 >= len(loc):  # a key of this model, or a whole nested value
            return path, model, str(part)
        path, model, i = path + (part, loc[i + 1]), inner, i + 2  # into a mapping or list item
    return path, model, ""


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def diagnose(error: ValidationError, model: type[BaseModel], data: dict[str, Any],
             source: SourceMap, path: Path, what: str, notes: tuple = (),
             skip_loc_head: bool = False) -> Iterable[Diagnostic]:
    """Diagnostics for `data` (written at `path`) failing `model`; `what` names it in messages."""
    errors = [(e, *_locate(model, e["loc"][1:] if skip_loc_head else e["loc"]))
              for e in error.errors()]
    # A misspelt key explains the missing one it resembles (`kernal:` for `kernel`): one
    # diagnostic, at the misspelling, says both.
    missing = {(inner, key) for e, inner, _, key in errors if e["type"] == "missing"}
    explained = {}
    for e, inner, owner, key in errors:
        close = difflib.get_close_matches(key, [m for i, m in missing if i == inner], 1, 0.6)
        if e["type"] == "extra_forbidden" and close and (inner, close[0]) not in explained:
            explained[(inner, close[0])] = key
    seen: set[tuple] = set(explained)
    for e, inner, owner, key in errors:
        if (inner, key) in seen:
            continue
        seen.add((inner, key))
        fields = _fields_by_key(owner)
        where = path + inner
        name = f"`{'.'.join(map(str, inner))}`" if inner else what
        value = data
        for part in inner:
            value = value[part] if isinstance(value, (dict, list)) else {}
        if e["type"] == "extra_forbidden":
            meant = next((m for (i, m), k in explained.items() if i == inner and k == key), None)
            hint = (f"did you mean '{meant}'? {name} needs `{meant}`" if meant else
                    did_you_mean(key, fields) or f"{name} accepts: {', '.join(sorted(fields))}")
            yield Diagnostic("unknown-attribute", f"{name} has no attribute `{key}`",
                             source.key(where + (key,)), notes, hint)
        elif e["type"] == "missing":
            field = fields[key]
            yield Diagnostic("missing-attribute", f"{name} needs `{key}`", source.value(where),
                             notes, f"add `{key}: <{describe(field.annotation, field.metadata)}>`")
        else:
            field = fields.get(key)
            expected = describe(field.annotation, field.metadata) if field else e["msg"]
            given = value.get(key) if isinstance(value, dict) else value
            constraint = "" if e["type"].endswith("_type") else f" ({e['msg'].lower()})"
            yield Diagnostic("type", f"`{key}` of {name} must be {expected}; got "
                                     f"{_given(given)}{constraint}",
                             source.value(where + (key,)), notes)
