"""Batch-invariant training (--shards S): each global batch computed as S fixed shards.

Two runs whose reductions add the same numbers in another order part in float32: within
some steps a ReLU input that rounding puts on the other side of zero changes a gradient by a
visible amount (docs/distributed.md). N ranks add their shares' gradients in another order
than one process adds the whole batch's, so they part too. Under `split(k)` the order no
longer depends on N: this rank's batch is k shards of equal size, every layer that treats
its images apart runs on each shard alone (the executor calls its kernel once per shard, so
the kernel sees the same shard whatever else the batch holds), and every sum over the batch
adds the shards' partial sums in one fixed tree (`tree`). The ranks hold contiguous runs of
shards, each a subtree (N a power of two dividing S), and MPI adds their two halves at the
top, so N ranks with S/N shards each compute one process's S shards bit for bit. The
BatchNorm sums take the same path (runtime/sync_bn.py), and dropout draws each shard's masks
from that shard's generator when the model has one a shard (Model.reseed, runtime/train.py).

The price is smaller GEMMs and a copy of each output. Outside `split` (k = 1) nothing
changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

_local = 1  # shards of this rank's batch while `split` holds


@contextmanager
def split(k: int) -> Iterator[None]:
    """This rank's training batches in k shards for the duration."""
    global _local
    previous, _local = _local, k
    try:
        yield
    finally:
        _local = previous


def local() -> int:
    """How many shards this rank's batch holds (1 outside `split`)."""
    return _local


def pieces(x: Any, k: int | None = None) -> list[Any]:
    """x (N, ...) as k views of N/k images each, in order."""
    k = k or _local
    n = len(x) // k
    return [x[j * n:(j + 1) * n] for j in range(k)]


def tree(parts: Sequence[Any]) -> Any:
    """The sum of `parts` in the halving tree: the first half's sum plus the second half's.
    Any contiguous run of 2^j equal subtrees is a subtree, so ranks that each hold such a
    run and add their sums pairwise reproduce it."""
    if len(parts) == 1:
        return parts[0]
    mid = len(parts) // 2
    return tree(parts[:mid]) + tree(parts[mid:])


class Shards(list):
    """A step's saved values, one per shard: its backward runs shard by shard too."""


def _whole_batch(kernel: ModuleType) -> bool:
    """Whether a kernel runs on the whole batch under `split`: BatchNorm's statistics span it
    (BATCH_STATISTICS), and it splits its sums itself (runtime/sync_bn.py). Every other kernel
    treats its images apart."""
    return getattr(kernel, "BATCH_STATISTICS", False)


def forward(kernel: ModuleType, xp: Any, inputs: list, params: dict, attrs: dict,
            training: bool, **extra: Any) -> tuple[Any, Any]:
    """kernel.forward, once per shard in training under `split`: the outputs concatenated
    along the batch axis (each of them, for a step with several)."""
    run = kernel.forward
    if _local == 1 or not training or _whole_batch(kernel):
        return run(xp, inputs, params, attrs, training, **extra)
    outs, saved = Shards(), Shards()
    rngs = extra.get("rng")  # dropout: a generator for each shard when given a list
    for j, part in enumerate(zip(*(pieces(x) for x in inputs))):
        if isinstance(rngs, list):
            extra["rng"] = rngs[j]
        y, s = run(xp, list(part), params, attrs, training, **extra)
        outs.append(y)
        saved.append(s)
    if isinstance(outs[0], tuple):
        return tuple(xp.concatenate(ys) for ys in zip(*outs)), saved
    return xp.concatenate(outs), saved


def backward(kernel: ModuleType, xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             **extra: Any) -> tuple[list, dict]:
    """kernel.backward after `forward`: per shard when its forward was, the inputs' gradients
    concatenated and the parameters' added in the tree."""
    run = kernel.backward
    if not isinstance(saved, Shards):
        return run(xp, dy, saved, params, attrs, **extra)
    done = [run(xp, d, s, params, attrs, **extra) for d, s in zip(pieces(dy, len(saved)), saved)]
    dinputs = [None if dx[0] is None else xp.concatenate(dx)
               for dx in zip(*(dins for dins, _ in done))]
    dparams = {name: tree([dps[name] for _, dps in done]) for name in done[0][1]}
    return dinputs, dparams
