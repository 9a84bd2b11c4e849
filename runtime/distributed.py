"""Data-parallel training over the processes `mpiexec` starts: each rank holds a full copy of
the model, computes the gradients of its share of every global batch, and the ranks average
them with MPI's allreduce before each optimizer step (what ChainerMN and Horovod do). The
training loop (runtime/train.py) calls this module between backward and the optimizer step,
and the kernels never know; the one exception, on request, is --sync-bn (runtime/sync_bn.py).

`world()` is the entry point: a `Single` process unless a launcher started several (MPICH's
and Open MPI's environment variables say so), and only then is mpi4py imported, so a plain run
and `cnnc compile` never load MPI.

Gradients travel in buckets of about BUCKET_BYTES, in the order backward produces them (the
last layers first): a bucket's non-blocking allreduce (MPI_Iallreduce) starts as soon as its
last gradient is final, while backward goes on to the earlier layers, and the optimizer step
waits for all of them. On GPUs the buckets go through NCCL (runtime/nccl.py) instead, one GPU
per rank. The reduction sums in a fixed order for a fixed number of ranks, so a run is
deterministic; it then divides by the number of ranks.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from cnnc_runtime.device import on_gpu, to_host
from cnnc_runtime.losses import softmax_cross_entropy
from cnnc_runtime.model import Model
from cnnc_runtime.optim import Optimizer

# How a launcher tells its processes their rank and count: MPICH's hydra (PMI_*), Open MPI.
SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
INSTALL = "pip install 'cnnc[mpi]' (mpi4py and MPICH from PyPI; no system MPI needed)"
# PyTorch's DDP takes 25 MB; smaller here so that a small network still has several buckets to
# overlap (resnet20's whole gradient is 1.1 MB). Not tuned by measurement.
BUCKET_BYTES = 1 << 20
TERMINATED = 143  # 128 + SIGTERM, the shell's convention


class DistributedError(RuntimeError):
    """Distributed training cannot start as asked; the message says why and what to do."""


class Reducer(Protocol):
    """Averages one step's gradients across ranks, bucket by bucket, as backward makes them."""

    def start(self, totals: Sequence[float]) -> None: ...
    def add(self, name: str, grad: Any) -> None: ...
    def finish(self) -> tuple[dict[str, Any], np.ndarray]: ...


def launched_size() -> int:
    """How many processes the launcher started (1 without one)."""
    for var in SIZE_VARS:
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return 1


class Single:
    """One process: every collective is the identity, and nothing is imported."""

    rank, size, local_rank, local_size = 0, 1, 0, 1

    def sum(self, values: np.ndarray) -> np.ndarray:
        return values

    def broadcast(self, xp: Any, arrays: Mapping[str, Any]) -> None:
        pass

    def describe(self) -> str:
        return "one process"


class Mpi:
    """The ranks of MPI_COMM_WORLD. `sum` and `broadcast` are blocking collectives on host
    arrays; `reducer` makes the per-step gradient averager (MPI, or NCCL on a GPU)."""

    def __init__(self) -> None:
        try:
            from mpi4py import MPI
        except ImportError:
            raise DistributedError(f"{launched_size()} processes were launched, but mpi4py is "
                                   f"not installed: {INSTALL}") from None
        self.MPI, self.comm = MPI, MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this machine
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        self.hosts = self.comm.allgather((socket.gethostname(), os.getpid()))
        _stop_all_on_failure(self)

    def sum(self, values: np.ndarray) -> np.ndarray:
        """The elementwise sum of `values` (a host array) over the ranks, on every rank."""
        out = np.empty_like(values)
        self.comm.Allreduce(np.ascontiguousarray(values), out, op=self.MPI.SUM)
        return out

    def broadcast(self, xp: Any, arrays: Mapping[str, Any]) -> None:
        """Overwrite `arrays` (name -> array of `xp`, the same names and shapes on every rank)
        in place with rank 0's values: one buffer, one broadcast, exact in float64."""
        names = sorted(arrays)
        if not names:
            return
        flat = np.concatenate([to_host(arrays[n]).astype(np.float64).ravel() for n in names])
        self.comm.Bcast(flat, root=0)
        at = 0
        for n in names:
            a = arrays[n]
            a[...] = xp.asarray(flat[at:at + a.size].reshape(a.shape), dtype=a.dtype)
            at += a.size

    def reducer(self, xp: Any, groups: list[list[tuple[str, tuple[int, ...]]]],
                dtype: Any) -> Reducer:
        """The gradient averager for these buckets (name, shape) of `dtype`: MPI on host
        arrays, NCCL between GPUs."""
        if on_gpu(xp):
            from cnnc_runtime.nccl import NcclReducer
            return NcclReducer(self, xp, groups, dtype)
        return MpiReducer(self, groups, dtype)

    def describe(self) -> str:
        by_host: dict[str, list[str]] = {}
        for rank, (host, pid) in enumerate(self.hosts):
            by_host.setdefault(host, []).append(f"rank {rank} pid {pid}")
        return f"{self.size} ranks: " + "; ".join(f"{h}: {', '.join(r)}"
                                                 for h, r in by_host.items())

    def abort(self, code: int) -> None:
        # mpiexec passes our stderr on from a pipe, and an abort tears that down at once: a
        # moment first, so the line that says why reaches the user on a busy machine too
        sys.stderr.flush()
        time.sleep(0.5)
        self.comm.Abort(code)


World = Single | Mpi


@functools.cache
def world() -> World:
    """This process's place in the run: Single unless a launcher started several (made once:
    MPI starts once per process)."""
    return Mpi() if launched_size() > 1 else Single()


def any_rank(w: World, flag: bool) -> bool:
    """Whether `flag` holds on any rank (every rank gets the same answer)."""
    return flag if w.size == 1 else bool(w.sum(np.array([float(flag)]))[0] > 0)


class ParallelStep:
    """runtime/train.py's `_train_step` over the ranks: each its share of the batch; the
    gradients averaged in buckets while backward runs; the loss and counts (and whether any rank was asked to stop)
    summed over the global batch, so every rank takes the same decision after the step."""

    def __init__(self, world: Mpi, model: Model, stop: Callable[[], bool]) -> None:
        shapes = {n: tuple(model.params[n].shape) for n in model.trainable}
        groups = buckets(model.plan.training.steps, shapes, model.dtype.itemsize)
        self.reducer = world.reducer(model.xp, groups, model.dtype)
        self.stop, self.stopping = stop, False

    def __call__(self, model: Model, optimizer: Optimizer, x: np.ndarray, y: np.ndarray,
                 lr: float) -> tuple[float, int, int, int]:
        xp = model.xp
        labels = xp.asarray(y)
        logits = model.forward(x, training=True)
        loss, dlogits = softmax_cross_entropy(xp, logits, labels)
        correct = int((logits.argmax(axis=1) == labels).sum())
        self.reducer.start([float(loss) * len(x), correct, labels.size, len(x),
                            float(self.stop())])
        model.backward(dlogits, on_grad=self.reducer.add)
        grads, totals = self.reducer.finish()
        loss_sum, correct, seen, images, stops = totals
        loss = loss_sum / images
        if math.isfinite(loss):
            optimizer.step(grads, lr)
            model.changed()
        self.stopping = stops > 0
        return loss, int(correct), int(seen), int(images)


def _stop_all_on_failure(w: Mpi) -> None:
    """A rank that fails must not leave the others waiting in an allreduce for ever. An
    uncaught exception or a SIGTERM prints one line naming the rank and aborts the job
    (MPI_Abort: mpiexec then stops every rank within a second); a rank killed outright (SIGKILL, a crash)
    cannot speak, and mpiexec's own clean-up stops the others and names its pid, which the
    run's first lines map to its rank (`describe`)."""
    label = f"rank {w.rank} of {w.size} (pid {os.getpid()} on {socket.gethostname()})"

    def on_exception(kind: type, value: BaseException, tb: Any) -> None:
        sys.__excepthook__(kind, value, tb)
        print(f"cnnc run: {label} failed ({kind.__name__}): stopping every rank",
              file=sys.stderr, flush=True)
        w.abort(1)

    def on_term(signum: int, frame: Any) -> None:
        print(f"cnnc run: {label} received SIGTERM: stopping every rank; the last "
              "checkpoint is whole: continue with --resume", file=sys.stderr, flush=True)
        w.abort(TERMINATED)  # a plain exit would not stop the others

    sys.excepthook = on_exception
    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        pass


def buckets(steps: Sequence[Any], shapes: Mapping[str, tuple[int, ...]], itemsize: int,
            limit: int = BUCKET_BYTES) -> list[list[tuple[str, tuple[int, ...]]]]:
    """The parameters in `shapes` (name -> shape: the trainable ones) grouped in the order
    backward finishes them, the last step's first, each group closed once it holds `limit`
    bytes. Every rank computes the same groups from the same plan, which MPI needs: the
    ranks must start their collectives in the same order."""
    groups: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    size = 0
    for step in reversed(steps):
        for name in step.params.values():
            if name not in shapes:
                continue
            groups[-1].append((name, shapes[name]))
            size += int(np.prod(shapes[name])) * itemsize
            if size >= limit:
                groups.append([])
                size = 0
    return [g for g in groups if g]


class Buckets:
    """One flat buffer per bucket and a view of it per parameter; which are filled this step."""

    def __init__(self, groups: list[list[tuple[str, tuple[int, ...]]]], empty: Any) -> None:
        self.flats = [empty(sum(int(np.prod(s)) for _, s in g)) for g in groups]
        self.views: dict[str, Any] = {}
        self.bucket_of: dict[str, int] = {}
        for b, (group, flat) in enumerate(zip(groups, self.flats)):
            at = 0
            for name, shape in group:
                size = int(np.prod(shape))
                self.views[name] = flat[at:at + size].reshape(shape)
                self.bucket_of[name] = b
                at += size
        self.groups = groups
        self.reset()

    def reset(self) -> None:
        self.waiting = [{name for name, _ in g} for g in self.groups]
        self.launched = [False] * len(self.groups)

    def put(self, name: str, grad: Any) -> int | None:
        """Copy one gradient in; the bucket's index when this completed it, else None."""
        b = self.bucket_of.get(name)
        if b is None:  # a frozen parameter: never reduced, never stepped
            return None
        self.views[name][...] = grad
        self.waiting[b].discard(name)
        return b if not self.waiting[b] and not self.launched[b] else None

    def rest(self) -> list[int]:
        """The buckets not yet launched, their missing gradients zeroed (steps backward
        skipped: an output left out of the loss), in index order, the same on every rank."""
        for b, missing in enumerate(self.waiting):
            for name in missing:
                self.views[name][...] = 0
        return [b for b, done in enumerate(self.launched) if not done]


class MpiReducer:
    """Gradient buckets on the host, each reduced by MPI_Iallreduce as soon as it is full; the
    step's totals (loss, counts, a stop request) travel in a small allreduce of their own,
    started before backward, so they cost no extra wait."""

    def __init__(self, w: Mpi, groups: list[list[tuple[str, tuple[int, ...]]]],
                 dtype: Any) -> None:
        self.w, self.MPI = w, w.MPI
        self.buckets = Buckets(groups, lambda n: np.empty(n, dtype))
        self.requests: list[Any] = []
        self.totals = np.zeros(0)

    def start(self, totals: Sequence[float]) -> None:
        self.buckets.reset()
        self.totals = np.array(totals, np.float64)
        self.requests = [self.w.comm.Iallreduce(self.MPI.IN_PLACE, self.totals,
                                                op=self.MPI.SUM)]

    def add(self, name: str, grad: Any) -> None:
        full = self.buckets.put(name, grad)
        if full is not None:
            self._launch(full)
        else:  # MPICH moves a non-blocking collective along only inside MPI calls
            self.MPI.Request.Testall(self.requests)

    def _launch(self, b: int) -> None:
        self.buckets.launched[b] = True
        self.requests.append(self.w.comm.Iallreduce(self.MPI.IN_PLACE, self.buckets.flats[b],
                                                    op=self.MPI.SUM))

    def finish(self) -> tuple[dict[str, Any], np.ndarray]:
        """(name -> averaged gradient, the totals summed over ranks), once all arrived."""
        for b in self.buckets.rest():
            self._launch(b)
        self.MPI.Request.Waitall(self.requests)
        for flat in self.buckets.flats:
            flat /= self.w.size
        return self.buckets.views, self.totals
