"""A training run on disk: its settings (TrainConfig), where it is (Position), the checkpoint
that holds both with the weights, the BatchNorm state, the optimizer state and the data
normalisation, and metrics.jsonl beside it (one line per epoch). runtime/train.py runs the loop.

The checkpoint is a safetensors file (runtime/checkpoint.py: written atomically, so a kill at
any moment leaves the previous one whole) whose metadata carry the format tag FORMAT, the
settings, the position and the epoch records: `--resume` needs nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from cnnc_runtime import checkpoint
from cnnc_runtime.device import to_host
from cnnc_runtime.model import Model
from cnnc_runtime.optim import Optimizer

CHECKPOINT, METRICS = "checkpoint.safetensors", "metrics.jsonl"
FORMAT = "cnnc-train-1"


class Normalised(Protocol):
    """What a checkpoint keeps of the data a run trains on (runtime/train.py's Data)."""

    mean: np.ndarray  # (C,): the normalisation, which inference repeats
    std: np.ndarray
    classes: list[str]
    task: str


@dataclass(frozen=True)
class TrainConfig:
    """The settings of a run; stored in its checkpoint, so --resume needs none of them again."""

    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_epochs: int = 0
    step_epochs: int = 0  # "step" schedule: multiply the rate by gamma every this many epochs
    gamma: float = 0.1
    flip: bool = False  # mirror a random half of each batch left-right (labels maps too)
    crop: int = 0  # pad each example by this many pixels and crop it back at a random offset
    val_split: float = 0.0  # the fraction of the training split held out for validation
    seed: int = 0
    sync_bn: bool = False  # several ranks: BatchNorm statistics over the global batch
    shards: int = 0  # each batch in this many shards: the same bits on any N (0: one a rank)


@dataclass
class Position:
    """Where a run is: optimizer steps taken, and the running sums of the epoch in progress."""

    step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0  # training values scored this epoch: images, or pixels for segmentation
    images: int = 0
    seconds: float = 0.0


class RunError(ValueError):
    """A run that cannot go as asked: a checkpoint of another spec, shape or format, or
    settings the data or the ranks do not fit (a batch larger than the split, --shards)."""


def save_run(out: Path, model: Model, optimizer: Optimizer, data: Normalised, config: TrainConfig,
             identity: Mapping[str, str], position: Position, history: list[dict]) -> None:
    """Write the checkpoint of a run to `out`: everything `restore` and `--resume` read."""
    tensors = {name: to_host(v) for name, v in model.tensors().items()}
    tensors |= {name: to_host(v) for name, v in optimizer.state_dict().items()}
    tensors |= {"data.mean": data.mean, "data.std": data.std}
    meta = dict(identity) | {
        "format": FORMAT, "epoch": str(len(history)), "seed": str(config.seed),
        "config": json.dumps(asdict(config)),
        "position": json.dumps(asdict(position)), "classes": json.dumps(data.classes),
        "task": data.task, "history": json.dumps(history)}
    checkpoint.save(out / CHECKPOINT, tensors, meta)


def read_run(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """A training checkpoint's tensors and metadata; RunError when it is not one."""
    tensors, meta = checkpoint.load(path)
    if meta.get("format") != FORMAT:
        raise RunError(f"{path}: not a checkpoint written by `cnnc run --train` (no '{FORMAT}' "
                       "format tag); plain weights load with --weights")
    return tensors, meta


def load_weights(model: Model, tensors: Mapping[str, np.ndarray], path: Path) -> None:
    """Load every parameter and state tensor of the model from `tensors`; RunError naming the
    first one that is missing or has another shape."""
    for name, value in model.tensors().items():
        if name not in tensors:
            raise RunError(f"{path} does not fit '{model.plan.name}': it has no '{name}'")
        if tuple(tensors[name].shape) != tuple(value.shape):
            raise RunError(f"{path} does not fit '{model.plan.name}': '{name}' is "
                           f"{_fmt(tensors[name].shape)} there, the spec makes it "
                           f"{_fmt(value.shape)} (another --input, or another spec?)")
    model.load({name: tensors[name] for name in model.tensors()})


def resumed_config(meta: Mapping[str, str], given: TrainConfig) -> TrainConfig:
    """A checkpoint's settings, with the epoch count given now (a finished run extends)."""
    saved = TrainConfig(**json.loads(meta["config"]))
    return replace(saved, epochs=given.epochs)


def restore(path: Path, saved: tuple[dict, dict], model: Model, optimizer: Optimizer,
            data: Normalised) -> tuple[Position, list[dict]]:
    """Load a checkpoint (`read_run`'s tensors and metadata) into the model and the optimizer;
    the run's position and epoch records. RunError when it was trained on other data."""
    tensors, meta = saved
    load_weights(model, tensors, path)
    optimizer.load_state_dict({k: v for k, v in tensors.items() if k.startswith("optim.")})
    mean, std = tensors.get("data.mean"), tensors.get("data.std")
    if mean is None or not (np.array_equal(mean, data.mean) and np.array_equal(std, data.std)):
        raise RunError(f"{path} was trained on other data (its normalisation differs): resume "
                       "with the same --data")
    return Position(**json.loads(meta["position"])), json.loads(meta.get("history", "[]"))


def _fmt(shape: tuple) -> str:
    return "x".join(map(str, shape)) or "a scalar"


def append_metrics(out: Path, record: dict) -> None:
    """Add an epoch's record to metrics.jsonl."""
    with open(out / METRICS, "a") as f:
        f.write(json.dumps(record) + "\n")


def rewrite_metrics(out: Path, history: list[dict]) -> None:
    """metrics.jsonl as of the checkpoint: a resumed run drops epochs it is about to redo."""
    (out / METRICS).write_text("".join(json.dumps(r) + "\n" for r in history))
