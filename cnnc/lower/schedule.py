"""Buffer lifetimes of a step list: when each value can be dropped, and the memory that saves."""

from __future__ import annotations

import math

from cnnc.ops import RULES
from cnnc_runtime.plan import Schedule, Shape, Step

BYTES = 4  # float32
INDEX_BYTES = 8  # int64: extra outputs (max pooling's indices)


def schedule(steps: list[Step], outputs: tuple[str, ...], input_shape: Shape,
             training: bool) -> Schedule:
    """Free each value after its last reader; a view keeps its base storage alive.

    naive_bytes keeps every value (one sample, float32, views free); peak_bytes is the largest
    total of live storage just after a step has written its output. In training, backward
    needs what forward saved, so the naive sum is the honest figure and is also the peak.
    """
    last_reader: dict[str, int] = {}
    for i, step in enumerate(steps):
        for name in step.inputs:
            last_reader[name] = i
    frees: list[list[str]] = [[] for _ in steps]
    for name, i in last_reader.items():
        if name not in outputs:
            frees[i].append(name)

    shared = ("always",) if training else ("always", "inference")
    views = {s.id for s in steps if s.op in RULES and RULES[s.op].view in shared
             or s.attrs.get("view") is True}  # a slice says so by its attributes
    base: dict[str, str] = {"input": "input"}
    size = {"input": math.prod(input_shape) * BYTES}
    for s in steps:
        base[s.id] = base[s.inputs[0]] if s.id in views else s.id
        size[s.id] = 0 if s.id in views else math.prod(s.shape) * BYTES
        for o in s.outputs:
            base[f"{s.id}.{o}"] = f"{s.id}.{o}"
            size[f"{s.id}.{o}"] = math.prod(s.shape) * INDEX_BYTES

    holders: dict[str, int] = {"input": 1}  # live values per storage
    live = size["input"]
    peak, peak_step = live, "input"
    for i, s in enumerate(steps):
        for value in (s.id, *(f"{s.id}.{o}" for o in s.outputs)):
            holders[base[value]] = holders.get(base[value], 0) + 1
            live += size[value]
        if live > peak:
            peak, peak_step = live, s.id
        for name in frees[i]:
            holders[base[name]] -= 1
            if holders[base[name]] == 0:
                live -= size[base[name]]
    naive = sum(size.values())
    if training:
        peak, peak_step = naive, steps[-1].id
    return Schedule(tuple(steps), outputs, tuple(tuple(sorted(f)) for f in frees),
                    frozenset(views), naive, peak, peak_step)
