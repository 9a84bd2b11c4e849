"""Diagnostics: every user mistake becomes `FILE:LINE:COL: error[KIND]: MESSAGE` plus notes and a hint.

A phase collects all of its diagnostics and raises them together as one `CnncError`, so the user
fixes a spec in one round instead of one error per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Span:
    """A position in a source file; line and column are 1-based, as editors show them."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    kind: str
    message: str
    span: Span | None = None
    notes: tuple[tuple[Span | None, str], ...] = ()
    hint: str | None = None
    severity: str = "error"  # or "warning": reported, and the compile goes on

    def render(self) -> str:
        where = f"{self.span}: " if self.span else ""
        lines = [f"{where}{self.severity}[{self.kind}]: {self.message}"]
        for span, note in self.notes:
            lines.append(f"  {span}: note: {note}" if span else f"  note: {note}")
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    def sort_key(self) -> tuple:
        return (self.span is None, self.span or Span("", 0, 0))


class CnncError(Exception):
    """One or more diagnostics of one phase; `str()` renders them all, sorted by position."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        # The same mistake found twice (in a block and in each of its instances) is shown once.
        unique = {(d.kind, d.span, d.message): d for d in reversed(list(diagnostics))}
        self.diagnostics = sorted(unique.values(), key=Diagnostic.sort_key)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


class SpecError(CnncError):
    """The text of a spec is wrong: YAML, schema, block arguments, expressions."""


class GraphError(CnncError):
    """The graph a spec describes is wrong: references, cycles, arity, unused layers."""


class ShapeError(CnncError):
    """Tensor shapes do not work out: channels, mismatched merges, sizes below 1."""


@dataclass
class RuleError(Exception):
    """Raised by an op rule, which knows what is wrong but not where; the pass adds the span.

    `attr` names the attribute to point at (its YAML position), when one is to blame.
    """

    kind: str
    message: str
    hint: str | None = None
    attr: str | None = None
    notes: list[tuple[str, str]] = field(default_factory=list)  # (node id, text) pairs


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    """A `did you mean 'x'?` hint for a misspelt name, or None when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None
