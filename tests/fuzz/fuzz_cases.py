"""Seeded mutations of the zoo specs, and the only outcomes a mutated spec may have.

A case is (seed, index): the index picks a zoo spec and a mutation, a generator seeded by both
draws the details, so `python tests/fuzz/run.py --replay SEED:INDEX` shows one case again.
Mutations work on the parsed data (a key dropped or misspelt, a value of the wrong type, a huge or
negative number, an id duplicated) or on the bytes (a line deleted or doubled, random bytes, the
file cut short). The outcome is a compiled network, or a CnncError whose every diagnostic points at
a line of the file; anything else is a defect.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cnnc.compiler import compile_file
from cnnc.errors import CnncError
from cnnc.zoo import zoo_dir, zoo_names

HOSTILE = [0, -1, -7, 10**9, 2**31, 2**63, 10**400, 1.5, -0.0, 1e300, float("nan"), float("inf"),
           "", "abc", "same", "$x * 2", "$", "$i ** 64 ** 64", "x" * 300, None, True, False, [],
           {}, [1] * 7, [[2, 2]], {"op": "relu"}, "9" * 50]
# Huge means past every limit: a repeat of 10^5 one-layer copies is a legal 100,000-layer
# network, which compiles in about 12 s.
NUMBERS = [0, -1, -2**31, 10**6, 10**9, 2**31 - 1, 2**31, 10**400, 1.5, "3"]
TIME_LIMIT_S = 10  # a hang guard, far above the ~0.1 s a case takes; run.py reports the times


def specs() -> dict[str, bytes]:
    return {name: (zoo_dir() / f"{name}.yaml").read_bytes() for name in zoo_names()}


def _paths(data: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value in the document."""
    found = [path]
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(
        data, list) else ()
    for key, value in items:
        found += _paths(value, path + (key,))
    return found


def _parent(data: Any, path: tuple) -> tuple[Any, Any]:
    for key in path[:-1]:
        data = data[key]
    return data, path[-1]


def _data_mutation(change: Callable[[random.Random, Any, tuple], None]
                   ) -> Callable[[random.Random, bytes], bytes]:
    def mutate(rng: random.Random, text: bytes) -> bytes:
        data = yaml.safe_load(text)
        path = rng.choice(_paths(data)[1:])
        change(rng, data, path)
        return yaml.safe_dump(data, sort_keys=False, width=120).encode()
    mutate.__name__ = change.__name__
    return mutate


@_data_mutation
def drop(rng: random.Random, data: Any, path: tuple) -> None:
    parent, key = _parent(data, path)
    del parent[key]


@_data_mutation
def hostile_value(rng: random.Random, data: Any, path: tuple) -> None:
    parent, key = _parent(data, path)
    parent[key] = rng.choice(HOSTILE)


@_data_mutation
def hostile_number(rng: random.Random, data: Any, path: tuple) -> None:
    """A number where a number was: a repeat, a kernel, a size, a channel count."""
    numbers = [p for p in _paths(data) if type(_get(data, p)) is int]
    parent, key = _parent(data, rng.choice(numbers or [path]))
    parent[key] = rng.choice(NUMBERS)


def _get(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


@_data_mutation
def misspell_key(rng: random.Random, data: Any, path: tuple) -> None:
    parent, key = _parent(data, path)
    if isinstance(parent, dict) and isinstance(key, str) and key:
        i = rng.randrange(len(key))
        parent[key[:i] + key[i + 1:] + key[i]] = parent.pop(key)


@_data_mutation
def duplicate_id(rng: random.Random, data: Any, path: tuple) -> None:
    layers = [e for e in data.get("layers", []) if isinstance(e, dict)]
    if len(layers) >= 2:
        a, b = rng.sample(layers, 2)
        a["id"] = b.get("id", "x")


def delete_line(rng: random.Random, text: bytes) -> bytes:
    lines = text.splitlines(keepends=True)
    del lines[rng.randrange(len(lines))]
    return b"".join(lines)


def double_line(rng: random.Random, text: bytes) -> bytes:
    lines = text.splitlines(keepends=True)
    i = rng.randrange(len(lines))
    return b"".join(lines[:i + 1] + lines[i:])


def random_bytes(rng: random.Random, text: bytes) -> bytes:
    i = rng.randrange(len(text))
    return text[:i] + rng.randbytes(rng.randint(1, 8)) + text[i:]


def truncate(rng: random.Random, text: bytes) -> bytes:
    return text[:rng.randrange(len(text))]


MUTATIONS = [drop, hostile_value, hostile_value, hostile_number, hostile_number, misspell_key,
             duplicate_id, delete_line, double_line, random_bytes, truncate]


def case(seed: int, index: int, sources: dict[str, bytes]) -> tuple[str, str, bytes]:
    """(spec name, mutation name, mutated text) of case `index` of `seed`."""
    rng = random.Random(seed * 1_000_003 + index)
    name = rng.choice(sorted(sources))
    mutation = MUTATIONS[index % len(MUTATIONS)]
    return name, mutation.__name__, mutation(rng, sources[name])


class Hang(Exception):
    pass


def outcome(text: bytes, file: Path) -> str:
    """'ok' or the error kinds; raises AssertionError for an outcome that is a defect, Hang for
    a case past TIME_LIMIT_S."""
    file.write_bytes(text)

    def hang(*_: Any) -> None:
        raise Hang(f"no outcome after {TIME_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(TIME_LIMIT_S)
    try:
        compile_file(file)
        return "ok"
    except CnncError as e:
        lines = text.count(b"\n") + 1
        for d in e.diagnostics:
            assert d.span is not None and 1 <= d.span.line <= lines and d.span.col >= 1, (
                f"a diagnostic without a place in the file: {d.render()}")
        return " ".join(sorted({d.kind for d in e.diagnostics}))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
