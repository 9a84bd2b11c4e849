"""Data-parallel training speed on this machine: 1 and 2 MPI ranks of 1 thread each, and what a
step moves and waits for; then a model of larger runs (docs/distributed.md).

Weak scaling: each rank trains PER_RANK images a step (the global batch grows with the ranks),
resnet20_cifar at 3x32x32 in float32. Per run: images per second over the timed steps (after
WARMUP); the gradient bytes each rank sends a step (a ring allreduce sends 2 (N - 1) / N of
the buffer); the time the step waits for the reduction after backward (what overlap did not
hide); a blocking Allreduce of the whole gradient alone; and the compute (forward, backward,
update) of one process. What a batch in shards (--shards) costs one process. Then resnet50's
compute per image at 224x224 (one thread, measured) and its gradient size, for the model.

    python bench/distributed.py [--steps N]    # launches `mpiexec -n 1` and `-n 2` itself
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cnnc import build_model, compile_file
from cnnc_runtime import jit, shards
from cnnc_runtime.distributed import ParallelStep, world
from cnnc_runtime.optim import make_optimizer
from cnnc_runtime.train import _train_step

PER_RANK, WARMUP = 32, 2
BIN = Path(sys.executable).parent


def rank_job(steps: int) -> None:
    """Under mpiexec: time `steps` training steps on this rank's share; rank 0 prints JSON."""
    jit.set_threads(1)
    w = world()
    model = build_model(compile_file("resnet20_cifar", (3, 32, 32)), seed=0)
    optimizer = make_optimizer("sgd", model.params, model.trainable, np, momentum=0.9)
    rng = np.random.default_rng(w.rank)
    x = rng.standard_normal((PER_RANK, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, PER_RANK)
    step, waits = _train_step, []
    if w.size > 1:
        step = ParallelStep(w, model, stop=lambda: False)
        finish = step.reducer.finish

        def timed_finish():  # the wait after backward: the part overlap did not hide
            t = time.perf_counter()
            out = finish()
            waits.append(time.perf_counter() - t)
            return out
        step.reducer.finish = timed_finish
    times = []
    for i in range(WARMUP + steps):
        t = time.perf_counter()
        step(model, optimizer, x, y, 0.01)
        if i >= WARMUP:
            times.append(time.perf_counter() - t)
    grad_bytes = sum(model.params[n].nbytes for n in model.trainable)
    alone = []
    if w.size > 1:
        buffer = np.ones(grad_bytes // 4, np.float32)
        for _ in range(10):
            t = time.perf_counter()
            w.sum(buffer)
            alone.append(time.perf_counter() - t)
    if w.rank == 0:
        waits = waits[WARMUP:]
        print(json.dumps({
            "ranks": w.size, "step_s": statistics.median(times),
            "images_per_s": w.size * PER_RANK / statistics.median(times),
            "grad_bytes": grad_bytes, "sent_bytes": int(2 * (w.size - 1) / w.size * grad_bytes),
            "wait_s": statistics.median(waits) if waits else 0.0,
            "allreduce_s": statistics.median(alone) if alone else 0.0}))


def shard_cost(steps: int) -> dict[int, float]:
    """One process, one thread, 2 * PER_RANK images a step in 1, 2 and 4 shards (--shards,
    runtime/shards.py): the median step seconds of each, their steps interleaved (noise)."""
    jit.set_threads(1)
    model = build_model(compile_file("resnet20_cifar", (3, 32, 32)), seed=0)
    optimizer = make_optimizer("sgd", model.params, model.trainable, np, momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2 * PER_RANK, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 2 * PER_RANK)
    times: dict[int, list[float]] = {1: [], 2: [], 4: []}
    for i in range(WARMUP + steps):
        for k, seconds in times.items():
            with shards.split(k):
                t = time.perf_counter()
                _train_step(model, optimizer, x, y, 0.01)
                if i >= WARMUP:
                    seconds.append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def resnet50() -> dict:
    """resnet50 at 224x224 on one thread: seconds per image of a training step, gradient bytes."""
    jit.set_threads(1)
    model = build_model("resnet50", seed=0)
    optimizer = make_optimizer("sgd", model.params, model.trainable, np, momentum=0.9)
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    y = np.array([1, 2])
    _train_step(model, optimizer, x, y, 0.01)
    t = time.perf_counter()
    _train_step(model, optimizer, x, y, 0.01)
    return {"seconds_per_image": (time.perf_counter() - t) / 2,
            "grad_bytes": sum(model.params[n].nbytes for n in model.trainable)}


def scaling(compute_s: float, grad_bytes: int, gbit: float, ranks: int,
            latency_s: float = 50e-6) -> float:
    """Modelled images per second of `ranks` ranks, each a batch of PER_RANK images taking
    `compute_s` a step, reducing by a ring allreduce over links of `gbit` Gbit/s (2 (N - 1)
    messages of latency each) with no overlap: the pessimistic bound."""
    comm = 2 * (ranks - 1) / ranks * grad_bytes / (gbit * 1e9 / 8) + 2 * (ranks - 1) * latency_s
    return ranks * PER_RANK / (compute_s + comm)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rank-job", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank_job:
        return rank_job(args.steps)
    def launch(n: int) -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "mpiexec"), "-n", str(n), sys.executable, __file__,
                                 "--rank-job", "--steps", str(args.steps)],
                                stdout=subprocess.PIPE, text=True,
                                env=os.environ | {"OMP_NUM_THREADS": "1"})

    def result(p: subprocess.Popen) -> dict:
        return json.loads(p.communicate()[0].strip().splitlines()[-1])

    runs = [result(launch(1)), result(launch(2))]
    one, two = runs
    # Two single processes at once, no MPI between them: what sharing the machine costs alone.
    pair = [launch(1), launch(1)]
    apart = sum(result(p)["images_per_s"] for p in pair)
    print(f"resnet20_cifar 3x32x32 float32, {PER_RANK} images a step per rank, 1 thread each")
    for r in runs:
        print(f"  {r['ranks']} rank(s): {r['images_per_s']:6.1f} img/s, step "
              f"{r['step_s'] * 1e3:6.1f} ms, waits for the reduction {r['wait_s'] * 1e3:5.2f} ms")
    print(f"  scaling efficiency at 2 ranks: {two['images_per_s'] / (2 * one['images_per_s']):.0%}"
          f"; two unconnected single processes at once: {apart:.1f} img/s together "
          f"({apart / (2 * one['images_per_s']):.0%})")
    print(f"  gradient {two['grad_bytes'] / 1e6:.2f} MB a step; each rank sends "
          f"{two['sent_bytes'] / 1e6:.2f} MB; a blocking allreduce of it alone takes "
          f"{two['allreduce_s'] * 1e3:.2f} ms against {one['step_s'] * 1e3:.0f} ms of compute")
    cost = shard_cost(args.steps)
    print(f"one process, {2 * PER_RANK} images a step in 1 / 2 / 4 shards (--shards): step "
          + " / ".join(f"{cost[k] * 1e3:.0f}" for k in cost) + " ms ("
          + " / ".join(f"{cost[k] / cost[1]:.2f}x" for k in cost) + ")")
    r50 = resnet50()
    step = r50["seconds_per_image"] * PER_RANK
    print(f"resnet50 224x224 float32, 1 thread: {r50['seconds_per_image']:.2f} s per image "
          f"(a step of {PER_RANK}: {step:.1f} s); gradient {r50['grad_bytes'] / 1e6:.1f} MB")
    for label, compute in (("this CPU core", step), ("a 100x faster device", step / 100),
                           ("a 1000x faster device", step / 1000)):
        for gbit in (10, 100):
            rates = [scaling(compute, r50["grad_bytes"], gbit, n) for n in (1, 8, 64, 512)]
            print(f"  {label}, {gbit:3d} Gbit/s: img/s at 1/8/64/512 ranks " + " / ".join(
                f"{v:,.1f}" for v in rates) + f" (efficiency at 512: "
                f"{rates[-1] / (512 * rates[0]):.0%})")


if __name__ == "__main__":
    main()
