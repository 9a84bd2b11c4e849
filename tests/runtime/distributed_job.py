"""The training runs the distributed tests compare, run the same way by one process (imported)
and by every rank of `mpiexec -n 2 python distributed_job.py OUT RUN...` (each RUN a JSON object of
`train_run`'s arguments). Rank 0 leaves each run's final weights in OUT/NAME/weights.npz."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np

from cnnc import build_model, compile_file
from cnnc_runtime import jit
from cnnc_runtime.data import load_dataset, normalise
from cnnc_runtime.device import select_gpu, to_host
from cnnc_runtime.distributed import world
from cnnc_runtime.run_state import TrainConfig
from cnnc_runtime.train import Data, train

SHAPES = {"mnist1d_cnn": (1, 40), "resnet20_cifar": (3, 8, 8)}  # resnet20 tiny: 50 fast steps


@cache
def data(spec: str) -> Data:
    """800 training examples (50 steps of 16) and 64 test examples the spec's input takes."""
    if spec == "mnist1d_cnn":
        ds, mean, std = normalise(load_dataset("mnist1d", seed=0))
        return Data(ds.name, ds.x_train[:800], ds.y_train[:800], ds.x_test[:64],
                    ds.y_test[:64], ds.classes, ds.task, mean, std)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((864, *SHAPES[spec])).astype(np.float32)
    y = rng.integers(0, 10, 864)
    c = SHAPES[spec][0]
    return Data("noise", x[:800], y[:800], x[800:], y[800:], [str(i) for i in range(10)],
                "classify", np.zeros(c, np.float32), np.ones(c, np.float32))


def train_run(out: Path, name: str, spec: str, dtype: str = "float64", epochs: int = 1,
              sync_bn: bool = False, resume: str | None = None, steps: int = 50,
              device: str = "cpu", **settings: object) -> dict:
    """Train `spec` for `steps` steps an epoch (16 images each, SGD with momentum) into
    out/name, or on from out/resume's checkpoint, on `device` (a GPU per rank); its final
    weights."""
    if device == "gpu":
        select_gpu(world().local_rank)
    model = build_model(compile_file(spec, SHAPES[spec]), dtype=dtype, seed=0, device=device)
    config = TrainConfig(epochs=epochs, batch_size=16, lr=0.05, sync_bn=sync_bn,
                         **settings)
    ckpt = out / resume / "checkpoint.safetensors" if resume else None
    d = data(spec)
    d = replace(d, x_train=d.x_train[:16 * steps], y_train=d.y_train[:16 * steps])
    train(model, d, config, out / name, {"spec": spec}, io.StringIO(), resume=ckpt)
    return {k: to_host(v) for k, v in model.params.items()}


def main(out: str, *runs: str) -> None:
    jit.set_threads(1)
    for text in runs:
        settings = json.loads(text)
        weights = train_run(Path(out), **settings)
        if world().rank == 0:
            np.savez(Path(out) / settings["name"] / "weights.npz", **weights)


if __name__ == "__main__":
    main(*sys.argv[1:])
