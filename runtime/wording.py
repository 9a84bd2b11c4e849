"""Counts in messages, in words that agree with them: "1 epoch", "2 epochs", "1 class"."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    """`n` with thousands separators and `noun`, in the plural unless `n` is 1; a noun ending in
    s, x or sh takes "es" ("classes"), others "s" ("epochs")."""
    if n == 1:
        return f"1 {noun}"
    return f"{n:,} {noun}{'es' if noun.endswith(('s', 'x', 'sh')) else 's'}"
