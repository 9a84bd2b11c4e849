"""Load YAML safely into plain data plus a source map from data paths to file:line:col.

The source map is what lets every later phase point at the exact key or value a user wrote:
`spans[("layers", 3, "kernel")]` is the position of that layer's `kernel` value.
The limits of cnnc/spec/limits.py are checked here on the composed nodes, before anything walks
the document value by value.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import yaml

from cnnc.errors import Diagnostic, Span, SpecError
from cnnc.spec.limits import MAX_BYTES, MAX_DEPTH, MAX_INT, MAX_VALUES

Path = tuple[str | int, ...]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader, reading `1e-5` as a float as YAML 1.2 does (YAML 1.1 wants `1.0e-5`)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


@dataclass
class SourceMap:
    """Positions of every value (and of every mapping key) in one YAML document, as (line,
    column); a Span is made only when one is asked for (most never are)."""

    file: str
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def value(self, path: Path) -> Span | None:
        """The span of the value at `path`, or of its nearest enclosing value."""
        while path not in self.values and path:
            path = path[:-1]
        position = self.values.get(path)
        return Span(self.file, *position) if position else None

    def key(self, path: Path) -> Span | None:
        """The span of the key that names `path` (falls back to the value's span)."""
        position = self.keys.get(path)
        return Span(self.file, *position) if position else self.value(path)


def read_spec(path: FsPath) -> str:
    """The text of a spec file: refused by size before it is read, and by encoding with the
    position of the first byte that is not UTF-8."""
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpecError([Diagnostic(
                "limit", f"the file has {size:,} bytes; a spec may have at most {MAX_BYTES:,}",
                Span(file, 1, 1), hint="a spec describes a network in a few kilobytes: use "
                                       "blocks and `repeat:` instead of writing layers out")])
        data = path.read_bytes()
    except OSError as e:
        raise SpecError([Diagnostic("input", f"cannot read '{file}': {e.strerror}")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, col = _position(data[:e.start].decode("utf-8"), e.start)
        raise SpecError([Diagnostic(
            "yaml", f"byte 0x{data[e.start]:02x} is not UTF-8 text", Span(file, line, col),
            hint="save the spec as UTF-8 (a spec is text; this looks like binary data or "
                 "another encoding)")]) from None


def _mark_span(text: str, file: str, mark: yaml.Mark) -> Span:
    """A parser's position; the end of a file without a final newline (which YAML puts on a
    line after the last) is shown at the end of the last line."""
    breaks = text.count("\n")
    if mark.line > breaks:
        return Span(file, breaks + 1, len(text) - text.rfind("\n"))
    return Span(file, mark.line + 1, mark.column + 1)


def _position(text: str, index: int) -> tuple[int, int]:
    """The 1-based (line, column) of character `index` in `text`."""
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse `text` into dicts, lists and scalars; reject Python tags, duplicate keys and
    documents larger than the limits above."""
    if len(text) > MAX_BYTES:
        raise SpecError([Diagnostic("limit", f"the spec has {len(text):,} characters; a spec may "
                                             f"have at most {MAX_BYTES:,}", Span(file, 1, 1))])
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise SpecError([Diagnostic("yaml", "the file is empty", Span(file, 1, 1),
                                        hint="a spec needs at least `name`, `input` and `layers`")])
        source = SourceMap(file)
        problems: list[Diagnostic] = []
        _map_spans(root, (), source, problems, loader, set())
        if not problems:
            _check_expansion(root, file, problems)
        if problems:
            raise SpecError(problems)
        data = loader.construct_document(root)
    except yaml.reader.ReaderError as e:  # a control character, before any token has a mark
        index = e.position
        if hasattr(yaml, "CSafeLoader") and issubclass(_Loader, yaml.CSafeLoader):
            index = len(text.encode("utf-8")[:index].decode("utf-8", "ignore"))  # libyaml: bytes
        line, col = _position(text, index)
        code = e.character if isinstance(e.character, int) else ord(e.character)
        raise SpecError([Diagnostic("yaml", f"character {code:#06x} is not allowed "
                                            "in YAML text", Span(file, line, col),
                                    hint="remove it: a spec is plain text")]) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        span = _mark_span(text, file, mark) if mark else None
        notes = ()
        if e.context and e.context_mark and e.problem_mark:
            context = _mark_span(text, file, e.context_mark)
            notes = ((context, e.context.replace("while ", "") + " that starts here"),)
        raise SpecError([Diagnostic("yaml", e.problem or e.context or "invalid YAML", span, notes,
                                    hint="check indentation, colons and brackets near here")])
    except yaml.YAMLError as e:
        raise SpecError([Diagnostic("yaml", str(e), Span(file, 1, 1))])
    finally:
        loader.dispose()
    return data, source


_SAFE_TAGS = {"str", "int", "float", "bool", "null", "seq", "map", "merge", "binary", "timestamp"}


def _position_of(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _span(node: yaml.Node, file: str) -> Span:
    return Span(file, *_position_of(node))


def _map_spans(node: yaml.Node, path: Path, source: SourceMap, problems: list[Diagnostic],
               loader: yaml.SafeLoader, visited: set[int]) -> None:
    """Record the span of every value and key; each node is visited once, so an alias (the same
    node again) costs one step and its values keep the anchor's positions."""
    position = source.values[path] = _position_of(node)
    tag = node.tag.rsplit(":", 1)[-1]
    if not node.tag.startswith("tag:yaml.org,2002:") or tag not in _SAFE_TAGS:
        problems.append(Diagnostic("yaml", f"tag `{node.tag}` is not allowed in a spec",
                                   Span(source.file, *position),
                                   hint="specs hold plain data: remove the tag"))
        return
    if isinstance(node, yaml.ScalarNode):
        problem = _number_problem(node, tag, loader)
        if problem:
            problems.append(Diagnostic(*problem[:2], Span(source.file, *position),
                                       hint=problem[2]))
        return
    if id(node) in visited:
        return
    visited.add(id(node))
    if len(path) >= MAX_DEPTH:
        problems.append(Diagnostic("limit", f"values nested more than {MAX_DEPTH} levels deep",
                                   Span(source.file, *position),
                                   hint="a spec nests mappings and lists a few levels"))
        return
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _map_spans(item, path + (i,), source, problems, loader, visited)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if key_node.tag.endswith(":merge"):
                continue  # `<<: *anchor`; the merged keys carry their own positions
            key_position = _position_of(key_node)
            if not isinstance(key_node, yaml.ScalarNode) or not key_node.tag.startswith(
                    "tag:yaml.org,2002:"):
                problems.append(Diagnostic("yaml", "a key must be a plain name, not a list, a "
                                                   "mapping or a tagged value",
                                           Span(source.file, *key_position),
                                           hint="a `:` after a list or `{...}` makes it a key: "
                                                "remove the `:` or quote the key"))
                continue
            key = key_node.value
            if key in seen:
                problems.append(Diagnostic("yaml", f"duplicate key `{key}`",
                                           Span(source.file, *key_position),
                                           notes=((Span(source.file, *seen[key]),
                                                   "first given here"),),
                                           hint="a key may appear once per mapping"))
                continue
            seen[key] = source.keys[path + (key,)] = key_position
            _map_spans(value_node, path + (key,), source, problems, loader, visited)


def _number_problem(node: yaml.ScalarNode, tag: str,
                    loader: yaml.SafeLoader) -> tuple[str, str, str] | None:
    """(kind, message, hint) for an integer beyond MAX_INT (a 400-digit stride would overflow
    floats later) or a float that is not finite; the digits are counted before the text is
    converted."""
    if tag == "int":
        digits = len(node.value.lstrip("+-").replace("_", ""))
        if digits > 12 or abs(loader.construct_object(node)) > MAX_INT:
            shown = node.value[:20] + "..." * (len(node.value) > 20)
            return "limit", f"integer {shown} is too large", f"integers in a spec are at most {MAX_INT:,}"
    elif tag == "float" and not math.isfinite(loader.construct_object(node)):
        return "type", f"`{node.value}` is not a finite number", "give a finite number"
    return None


def _check_expansion(root: yaml.Node, file: str, problems: list[Diagnostic]) -> None:
    """Refuse a document that aliases expand past MAX_VALUES, counting each node once."""
    total = _expanded_size(root, {})
    if total > MAX_VALUES:
        problems.append(Diagnostic(
            "limit", f"the document expands to {total:,} values through its aliases; a spec may "
                    f"have at most {MAX_VALUES:,}", _span(root, file),
            hint="aliases (`*name`) that use aliases multiply: use blocks and `repeat:`"))


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values `node` stands for with its aliases expanded; `sizes` by node id. A
    module function, not a closure: a recursive closure refers to itself, and that cycle would
    be left to the cycle collector."""
    if id(node) not in sizes:
        if isinstance(node, yaml.SequenceNode):
            sizes[id(node)] = 1 + sum(_expanded_size(n, sizes) for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            sizes[id(node)] = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes)
                                      for k, v in node.value)
        else:
            sizes[id(node)] = 1
    return sizes[id(node)]
