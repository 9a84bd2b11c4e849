"""What a mapping (ops.py, ops_windows.py) returns, and the pieces several mappings share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnc.onnx_import.reader import Graph, Node


@dataclass
class Entry:
    op: dict[str, Any]                       # the spec entry without `id` and `from`
    reads: tuple[str, ...]                   # the value names it reads, in order
    params: dict[str, np.ndarray] = field(default_factory=dict)  # cnnc name -> array


@dataclass(frozen=True)
class Alias:
    value: str                               # the value the node's output stands for


@dataclass(frozen=True)
class Missing:
    what: str


Mapped = list[Entry] | Alias | Missing
Mapping = Callable[[Node, Graph], Mapped]


def compact(values: list[int]) -> int | list[int]:
    """One number where every axis agrees, as the zoo specs write it."""
    return values[0] if len(set(values)) == 1 else list(values)


def padding(pads: list[int]) -> int | list[int] | list[list[int]]:
    """ONNX's flat pads (all befores, then all afters) as cnnc's `padding`."""
    n = len(pads) // 2
    before, after = pads[:n], pads[n:]
    if before == after:
        return compact(before)
    return [[b, a] for b, a in zip(before, after)]


def weights(n: Node, g: Graph, names: tuple[str, ...]) -> dict[str, np.ndarray] | Missing:
    """The node's constant inputs after the first as cnnc parameters (`weight`, `bias`)."""
    out = {}
    for name, value in zip(names, n.inputs[1:]):
        if not value:
            continue
        array = g.const(value)
        if array is None:
            return Missing(f"`{name}` is computed, not a constant")
        out[name] = array.astype(np.float32, copy=False)  # VGG's fc6 is 400 MB
    return out


def per_channel(array: np.ndarray, shape: tuple[int, ...]) -> bool:
    """`array` broadcasts one number per channel over a value of IR `shape` ((C,) over a
    vector, (C, 1, 1) over a (C, H, W) map; leading ones for the batch axis allowed)."""
    rank = len(shape) + 1
    if array.ndim > rank:
        return False
    full = (1,) * (rank - array.ndim) + array.shape
    return full == (1, shape[0], *[1] * (rank - 2))
