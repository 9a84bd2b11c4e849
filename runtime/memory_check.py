"""Refuse a model or a batch that needs more memory than its device has, before allocating.

Linux grants allocations it cannot back (overcommit), so an absurd shape (an input of
100000x100000, a linear layer of 10^11 weights) does not fail where it is asked for: the
process is killed when it first fills the pages, or the machine swaps to a halt. The sizes a
Plan declares are compared with the memory available instead. They are lower bounds (kernel
workspaces, gradients, optimizer state and the data come on top), so a refusal is certain;
passing the check is no promise.
"""

from __future__ import annotations

import math
from types import ModuleType

from cnnc_runtime.device import available_memory
from cnnc_runtime.plan import Plan

PLAN_ITEMSIZE = 4  # a Schedule counts float32 bytes


class MemoryLimitError(ValueError):
    """Work that cannot fit in the memory available; the message names its largest part."""


def check_params(plan: Plan, xp: ModuleType, itemsize: int) -> None:
    """The parameters and state of `plan`, `itemsize` bytes per value, fit on `xp`'s device."""
    tensors = (*plan.params, *plan.state)
    need = sum(math.prod(t.shape) for t in tensors) * itemsize
    available = _short_of(xp, need)
    if available is not None:
        big = max(tensors, key=lambda t: math.prod(t.shape))
        raise MemoryLimitError(
            f"'{plan.name}' needs {_size(need)} for its parameters and state, "
            f"{_size(math.prod(big.shape) * itemsize)} of it for '{big.name}' {_fmt(big.shape)},"
            f" but {_size(available)} of memory is available; make layer "
            f"'{big.name.rsplit('.', 1)[0]}' smaller")


def check_activations(plan: Plan, xp: ModuleType, batch: int, itemsize: int,
                      training: bool) -> None:
    """A batch of `batch` examples, `itemsize` bytes per value, fits on `xp`'s device: training
    keeps every value for the backward pass, inference needs the peak of its memory plan."""
    sched = plan.training if training else plan.inference
    per_example = sched.naive_bytes if training else sched.peak_bytes
    need = per_example * batch * itemsize // PLAN_ITEMSIZE
    available = _short_of(xp, need)
    if available is not None:
        big = max(sched.steps, key=lambda s: 0 if s.id in sched.views else math.prod(s.shape))
        raise MemoryLimitError(
            f"a batch of {batch} through '{plan.name}' needs {_size(need)} for its activations "
            f"in {'training' if training else 'inference'}, "
            f"{_size(math.prod(big.shape) * itemsize)} per example for the output of "
            f"'{big.id}' {_fmt(big.shape)}, but {_size(available)} of memory is available; use "
            "a smaller batch or a smaller input")


def _short_of(xp: ModuleType, need: int) -> int | None:
    """The memory available when `need` exceeds it; None when it fits or nobody can tell."""
    available = available_memory(xp)
    return available if available is not None and need > available else None


def _fmt(shape: tuple[int, ...]) -> str:
    return "(" + "x".join(map(str, shape)) + ")"


def _size(n: int) -> str:
    """Bytes in binary units and exactly: 4.0 GiB (4,294,967,296 bytes)."""
    for unit, power in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << power:
            return f"{n / (1 << power):,.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"
