"""Synchronised BatchNorm (--sync-bn), and BatchNorm's sums under shards.split.

By default each rank normalises with the statistics of its own share, as PyTorch's
DistributedDataParallel does. Inside `across(world)` the BatchNorm kernels (batchnorm.py and
the fused conv_bn.py) ask this module for their sums instead: the per-channel sum and sum of
squares about the mean in forward, and the two gradient sums in backward, each added up over
the ranks, so N ranks compute what one process computes with the whole batch. The parameter
gradients stay each rank's own (the data-parallel average adds them up like the rest).

The same path serves a batch in shards (runtime/shards.py): each shard's partial sums, in
float64, added in the shards' tree and then over the ranks (2 ranks: the tree's top), and
the parameter gradients as the executor adds a per-image layer's, each shard's rounded to
the parameter's dtype and then added in the tree. So one process's S shards and N ranks' S/N
each give the same bits.

Outside both (`active()` False) nothing changes: the kernels run their own code, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from cnnc_runtime import shards
from cnnc_runtime.device import to_host

_world: Any = None  # the ranks the statistics span, while `across` holds


@contextmanager
def across(world: Any) -> Iterator[None]:
    """BatchNorm statistics over `world`'s ranks for the duration (None: each rank's own)."""
    global _world
    previous, _world = _world, world
    try:
        yield
    finally:
        _world = previous


def active() -> bool:
    """Whether the BatchNorm kernels take their sums from here: synchronised, or in shards."""
    return _world is not None or shards.local() > 1


def count(x: Any) -> int:
    """Values per channel the statistics of x (N, C, ...) cover: over every rank's share."""
    return x.size // x.shape[1] * (_world.size if _world is not None else 1)


def _partials(xp: Any, x: Any) -> Any:
    """(shards, C) float64: each shard's per-channel sum of x (N, C, ...). Each (image,
    channel) row sums along its contiguous axis in x's dtype, then a shard's rows in float64:
    one process's channel_sum (batchnorm.py) when there is one shard."""
    n, c = x.shape[:2]
    rows = x.reshape(n, c, -1).sum(axis=2)  # (N, C)
    return xp.stack([r.sum(axis=0, dtype=xp.float64) for r in shards.pieces(rows)])


def _totals(xp: Any, partials: list[Any]) -> list[Any]:
    """Each (shards, C) partial summed in the shards' tree and then over the ranks: (C,)
    float64 arrays (one allreduce for all)."""
    local = [shards.tree(list(p)) for p in partials]
    if _world is None:
        return local
    total = _world.sum(np.stack([to_host(t) for t in local]))  # (K, C)
    return [xp.asarray(t) for t in total]


def centred(xp: Any, x: Any) -> tuple[Any, Any, Any]:
    """(mean (C,), biased var (C,), x - mean) of x (N, C, ...) over the global batch: two
    reductions, the mean's and then the squares' about it (two passes, as in one process)."""
    m = count(x)
    (total,) = _totals(xp, [_partials(xp, x)])
    mean = (total / m).astype(x.dtype)  # (C,)
    xc = x - mean.reshape((1, -1) + (1,) * (x.ndim - 2))
    (squares,) = _totals(xp, [_partials(xp, xp.square(xc))])
    return mean, (squares / m).astype(x.dtype), xc


def mean_var(xp: Any, x: Any, shard_sums: Callable[[Any, Any], Any]) -> tuple[Any, Any]:
    """`centred`'s mean and variance (C,) from a compiled pass: shard_sums(x, None) gives each
    shard's per-channel sum of x, shard_sums(x, mean) its sum of squares about the mean, each
    (shards, C) in float64 (conv_bn_cpu.shard_sums)."""
    m = count(x)
    (total,) = _totals(xp, [shard_sums(x, None)])
    mean = (total / m).astype(x.dtype)
    (squares,) = _totals(xp, [shard_sums(x, mean)])
    return mean, (squares / m).astype(x.dtype)


def gradient_sums(xp: Any, g: Any, xhat: Any) -> tuple[Any, Any, Any, Any, int]:
    """The backward's sums of g and g * xhat (N, C, ...) per channel: (dbias, dweight), this
    rank's parameter gradients, and (total, dot, m), their sums over the global batch with
    its count, for dx."""
    parts = [_partials(xp, g), _partials(xp, g * xhat)]
    return from_partials(xp, parts, g.dtype, g.size // g.shape[1])


def from_partials(xp: Any, parts: list[Any], dtype: Any, values: int
                  ) -> tuple[Any, Any, Any, Any, int]:
    """`gradient_sums` from each shard's two sums, (shards, C) float64 each, over `values`
    values per channel on this rank (a compiled pass gives them: conv_bn_cpu)."""
    dbias, dweight = (shards.tree(list(p.astype(dtype))) for p in parts)
    total, dot = (t.astype(dtype) for t in _totals(xp, parts))
    return dbias, dweight, total, dot, values * (_world.size if _world is not None else 1)
