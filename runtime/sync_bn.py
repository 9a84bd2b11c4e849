"""Synchronised BatchNorm (--sync-bn): batch statistics over the global batch of every rank.

By default each rank normalises with the statistics of its own share, as PyTorch's
DistributedDataParallel does. Inside `across(world)` the BatchNorm kernels (batchnorm.py and
the fused conv_bn.py) ask this module for their sums instead: the per-channel sum and sum of
squares about the mean in forward, and the two gradient sums in backward, each added up over
the ranks, so N ranks compute what one process computes with the whole batch. The parameter
gradients stay each rank's own (the data-parallel average adds them up like the rest).

Outside `across` nothing changes: `active()` is False and `batch_sums` returns its input, so a
single process runs the kernels' own code, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

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
    return _world is not None


def count(x: Any) -> int:
    """Values per channel the statistics of x (N, C, ...) cover: over every rank's share."""
    return x.size // x.shape[1] * (_world.size if _world is not None else 1)


def _sum(xp: Any, rows: list[Any]) -> list[Any]:
    """Each (C,) array summed over the ranks, in float64 (one allreduce for all)."""
    local = np.stack([to_host(r).astype(np.float64) for r in rows])  # (K, C)
    total = _world.sum(local)
    return [xp.asarray(t) for t in total]


def _channel_sum64(xp: Any, x: Any) -> Any:
    n, c = x.shape[:2]
    return x.reshape(n, c, -1).sum(axis=2).sum(axis=0, dtype=xp.float64)  # (C,)


def centred(xp: Any, x: Any) -> tuple[Any, Any, Any]:
    """(mean (C,), biased var (C,), x - mean) of x (N, C, ...) over the global batch: two
    allreduces, the mean's and then the squares' about it (two passes, as in one process)."""
    m = count(x)
    (total,) = _sum(xp, [_channel_sum64(xp, x)])
    mean = (total / m).astype(x.dtype)  # (C,)
    xc = x - mean.reshape((1, -1) + (1,) * (x.ndim - 2))
    (squares,) = _sum(xp, [_channel_sum64(xp, xp.square(xc))])
    return mean, (squares / m).astype(x.dtype), xc


def batch_sums(xp: Any, dbias: Any, dweight: Any, m: int) -> tuple[Any, Any, int]:
    """The backward's per-channel sum(dy) and sum(dy * xhat) (C,) and their count m, over the
    global batch; as given when not synchronised."""
    if _world is None:
        return dbias, dweight, m
    total, dot = _sum(xp, [dbias, dweight])
    return total.astype(dbias.dtype), dot.astype(dweight.dtype), m * _world.size
