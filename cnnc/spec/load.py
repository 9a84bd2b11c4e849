"""Load YAML safely into plain data plus a source map from data paths to file:line:col.

The source map is what lets every later phase point at the exact key or value a user wrote:
`spans[("layers", 3, "kernel")]` is the position of that layer's `kernel` value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from cnnc.errors import Diagnostic, Span, SpecError

Path = tuple[str | int, ...]

class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader, reading `1e-5` as a float as YAML 1.2 does (YAML 1.1 wants `1.0e-5`)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


@dataclass
class SourceMap:
    """Positions of every value (and of every mapping key) in one YAML document."""

    file: str
    values: dict[Path, Span] = field(default_factory=dict)
    keys: dict[Path, Span] = field(default_factory=dict)

    def value(self, path: Path) -> Span | None:
        """The span of the value at `path`, or of its nearest enclosing value."""
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path)

    def key(self, path: Path) -> Span | None:
        """The span of the key that names `path` (falls back to the value's span)."""
        return self.keys.get(path) or self.value(path)


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse `text` into dicts, lists and scalars; reject Python tags and duplicate keys."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise SpecError([Diagnostic("yaml", "the file is empty", Span(file, 1, 1),
                                        hint="a spec needs at least `name`, `input` and `layers`")])
        source = SourceMap(file)
        problems: list[Diagnostic] = []
        _map_spans(root, (), source, problems)
        if problems:
            raise SpecError(problems)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        span = Span(file, mark.line + 1, mark.column + 1) if mark else None
        notes = ()
        if e.context and e.context_mark and e.problem_mark:
            context = Span(file, e.context_mark.line + 1, e.context_mark.column + 1)
            notes = ((context, e.context.replace("while ", "") + " that starts here"),)
        raise SpecError([Diagnostic("yaml", e.problem or e.context or "invalid YAML", span, notes,
                                    hint="check indentation, colons and brackets near here")])
    except yaml.YAMLError as e:
        raise SpecError([Diagnostic("yaml", str(e), Span(file, 1, 1))])
    finally:
        loader.dispose()
    return data, source


_SAFE_TAGS = {"str", "int", "float", "bool", "null", "seq", "map", "merge", "binary", "timestamp"}


def _span(node: yaml.Node, file: str) -> Span:
    return Span(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _map_spans(node: yaml.Node, path: Path, source: SourceMap, problems: list[Diagnostic]) -> None:
    source.values[path] = _span(node, source.file)
    tag = node.tag.rsplit(":", 1)[-1]
    if not node.tag.startswith("tag:yaml.org,2002:") or tag not in _SAFE_TAGS:
        problems.append(Diagnostic("yaml", f"tag `{node.tag}` is not allowed in a spec",
                                   _span(node, source.file),
                                   hint="specs hold plain data: remove the tag"))
        return
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _map_spans(item, path + (i,), source, problems)
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, Span] = {}
        for key_node, value_node in node.value:
            if key_node.tag.endswith(":merge"):
                continue  # `<<: *anchor`; the merged keys carry their own positions
            key = key_node.value
            key_span = _span(key_node, source.file)
            if key in seen:
                problems.append(Diagnostic("yaml", f"duplicate key `{key}`", key_span,
                                           notes=((seen[key], "first given here"),),
                                           hint="a key may appear once per mapping"))
                continue
            seen[key] = key_span
            source.keys[path + (key,)] = key_span
            _map_spans(value_node, path + (key,), source, problems)
