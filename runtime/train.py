"""The training loop of `cnnc run --train`: epochs of shuffled mini-batches, an evaluation on the
held-out split after each, and a checkpoint after each that continues the run exactly.

Determinism: everything random in a step is a function of (seed, step): an epoch's shuffle
comes from (seed, epoch), and dropout's generator and the --flip and --crop draws from (seed,
step); the validation split (cnnc/run.py holds it out) from the seed alone. A run resumed from
any checkpoint, even one written mid-epoch by Ctrl-C, takes the same steps as a run that never
stopped, so on the CPU both end with the same weights bit for bit.

Files in the output directory: checkpoint.safetensors and metrics.jsonl (runtime/run_state.py:
the run's settings, position and checkpoint) and curves.png.

Under `mpiexec -n N` the loop runs data-parallel (runtime/distributed.py): every global batch
is the one a single process would take, split into N equal shares in rank order, and the
averaged gradients make one optimizer step, so the run takes the same steps for any N and can
resume with another N. Rank 0 alone writes the files and the progress; the evaluation is split
across the ranks.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from cnnc_runtime import distributed, metrics, shards, sync_bn
from cnnc_runtime.augment import mirror_half, random_crop
from cnnc_runtime.data import Dataset
from cnnc_runtime.device import batches_on, to_host
from cnnc_runtime.figures import plot_curves
from cnnc_runtime.interrupt import StopFlag
from cnnc_runtime.losses import softmax_cross_entropy
from cnnc_runtime.lr import make_schedule
from cnnc_runtime.model import Model
from cnnc_runtime.optim import Optimizer, make_optimizer
from cnnc_runtime.progress import Bar
from cnnc_runtime.run_state import (
    CHECKPOINT,
    Position,
    RunError,
    TrainConfig,
    append_metrics,
    read_run,
    restore,
    resumed_config,
    rewrite_metrics,
    save_run,
)
from cnnc_runtime.wording import plural

CURVES = "curves.png"
EVAL_BATCH = 256


@dataclass
class Data(Dataset):
    """A data set ready to train on: x fitted to the spec's input and normalised per channel by
    `mean` and `std` (C,), which the checkpoint keeps so inference can do the same; x_val, y_val
    the examples held out of the training split (--val-split), scored after each epoch."""

    mean: np.ndarray
    std: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


@dataclass
class Outcome:
    """How a run ended: its epoch records, and why it stopped when it did not finish."""

    history: list[dict] = field(default_factory=list)
    stopped: str | None = None  # "interrupted" or "diverged"
    message: str = ""


def train(model: Model, data: Data, config: TrainConfig, out: Path,
          identity: Mapping[str, str], log: TextIO, resume: Path | None = None,
          world: distributed.World | None = None) -> Outcome:
    """Train `model` in place; `identity` (spec name, hash, input shape, dataset) goes into every
    checkpoint. With `resume`, the run continues from that checkpoint with its own settings,
    all but `epochs`, which comes from `config` (so a finished run can be extended). `world`
    is the ranks to train over (distributed.world(): those mpiexec started, or one process)."""
    world = world or distributed.world()
    saved = None
    if resume is not None:
        saved = read_run(resume)
        config = resumed_config(saved[1], config)
    steps_per_epoch = len(data.x_train) // config.batch_size
    if steps_per_epoch == 0:
        raise RunError(f"the training split has {plural(len(data.x_train), 'example')}, fewer "
                       f"than one batch of {config.batch_size}: lower --batch-size")
    per_rank = _shards_per_rank(config, world.size)
    synced = world if config.sync_bn and world.size > 1 else None
    with sync_bn.across(synced), shards.split(per_rank):
        return _train(model, data, config, out, identity, log, resume, saved, steps_per_epoch,
                      world)


def _shards_per_rank(config: TrainConfig, ranks: int) -> int:
    """This rank's shards of each batch (--shards, runtime/shards.py; one a rank by default)."""
    total = config.shards or ranks
    if config.shards and (total % ranks or ranks & (ranks - 1)):
        raise RunError(f"--shards {total} cannot be shared by {ranks} ranks: each rank takes an "
                       f"equal run of them, which needs a number of ranks that is a power of "
                       f"two and divides them (1, 2, 4...): change -n or --shards")
    if config.batch_size % total:
        what = f"{total} shards" if config.shards else f"{ranks} equal shares, one per rank"
        raise RunError(f"--batch-size {config.batch_size} does not split into {what}: make it "
                       f"a multiple of {total}")
    return total // ranks


def _dropout_seeds(config: TrainConfig, step: int, world: distributed.World) -> list[list[int]]:
    """The seeds of dropout's generators for a step: with --shards one a shard, from (seed,
    step, shard), so the masks are the same for any N; otherwise this rank's own, from (seed,
    step, rank), so they depend on N."""
    if config.shards:
        k = config.shards // world.size
        return [[config.seed, step, world.rank * k + j] for j in range(k)]
    return [[config.seed, step, *([world.rank] * (world.size > 1))]]


def _train(model: Model, data: Data, config: TrainConfig, out: Path,
           identity: Mapping[str, str], log: TextIO, resume: Path | None,
           saved: tuple[dict[str, np.ndarray], dict[str, str]] | None,
           steps_per_epoch: int, world: distributed.World) -> Outcome:
    writer = world.rank == 0
    if not writer:
        log = io.StringIO()  # not a terminal: it gets one summary line an epoch, unread
    position, outcome = Position(), Outcome()
    optimizer = make_optimizer(config.optimizer, model.params, model.trainable, model.xp,
                               momentum=config.momentum, nesterov=config.nesterov,
                               weight_decay=config.weight_decay)
    if saved is not None:
        position, outcome.history = restore(resume, saved, model, optimizer, data)
    schedule = make_schedule(config.schedule, base_lr=config.lr,
                             total_steps=config.epochs * steps_per_epoch,
                             warmup_steps=config.warmup_epochs * steps_per_epoch,
                             step_every=config.step_epochs * steps_per_epoch, gamma=config.gamma)
    if writer:
        out.mkdir(parents=True, exist_ok=True)
        rewrite_metrics(out, outcome.history)
    step = _train_step
    if world.size > 1:
        world.broadcast(model.xp, model.tensors())  # every rank starts from rank 0's weights
        step = distributed.ParallelStep(world, model, stop=lambda: stop.requested)

    def save() -> None:
        if writer:
            save_run(out, model, optimizer, data, config, identity, position, outcome.history)

    # A diverging step overflows before its loss is checked: the check speaks, not NumPy.
    with StopFlag() as stop, np.errstate(all="ignore"):
        while position.step < config.epochs * steps_per_epoch:
            epoch = position.step // steps_per_epoch
            bar = Bar(log, f"epoch {epoch + 1}/{config.epochs}", steps_per_epoch,
                      done=position.step % steps_per_epoch)
            started = time.perf_counter() - position.seconds
            batches = _batches(data, config, epoch, position.step % steps_per_epoch,
                               world.rank, world.size)
            for x, y in batches_on(model.xp, batches):
                # between steps, so the checkpoint holds whole updates; ranks decide together
                if stop.requested and world.size == 1:
                    bar.close()
                    save()
                    return _ended(outcome, "interrupted", f"interrupted at epoch {epoch + 1}, "
                                  f"step {position.step}; saved {out / CHECKPOINT}")
                model.reseed(*_dropout_seeds(config, position.step, world))
                lr = schedule.lr(position.step)
                loss, correct, seen, images = step(model, optimizer, x, y, lr)
                if not math.isfinite(loss):
                    bar.close()
                    kept = (f"{out / CHECKPOINT} still holds epoch {len(outcome.history)}"
                            if outcome.history else "no checkpoint was written")
                    return _ended(outcome, "diverged", f"the loss became {loss} at epoch "
                                  f"{epoch + 1}, step {position.step + 1} (learning rate "
                                  f"{lr:.3g}); {kept}. Try a smaller --lr, or --warmup-epochs")
                position.step += 1
                position.loss_sum += loss * images
                position.correct += correct
                position.seen += seen
                position.images += images
                position.seconds = time.perf_counter() - started
                # fixed widths, so the line (and the bar fitted beside it) keeps its length
                bar.update(f"loss {position.loss_sum / position.images:.4f}  "
                           f"acc {position.correct / position.seen:5.1%}  "
                           f"{position.images / position.seconds:6,.0f} img/s")
                # a rank saw Ctrl-C: all stop here, or after the epoch's record at its end
                if getattr(step, "stopping", False) and position.step % steps_per_epoch:
                    bar.close()
                    save()
                    return _ended(outcome, "interrupted", f"interrupted at epoch {epoch + 1}, "
                                  f"step {position.step}; saved {out / CHECKPOINT}")
            world.broadcast(model.xp, model.state)  # per-rank BN statistics: rank 0's count
            record = _epoch_record(model, data, epoch, position, schedule.lr(position.step - 1),
                                   world)
            record["seconds"] = round(time.perf_counter() - started, 3)
            bar.close(_summary(record))
            outcome.history.append(record)
            position = Position(step=position.step)
            save()
            if writer:
                append_metrics(out, record)
                plot_curves(out / CURVES, outcome.history, identity.get("spec", ""))
            if distributed.any_rank(world, stop.requested):
                return _ended(outcome, "interrupted", f"interrupted after epoch {epoch + 1}; "
                              f"saved {out / CHECKPOINT}")
    return outcome


def _ended(outcome: Outcome, why: str, message: str) -> Outcome:
    outcome.stopped, outcome.message = why, message
    return outcome


def _epoch_record(model: Model, data: Data, epoch: int, position: Position, lr: float,
                  world: distributed.World) -> dict:
    """The metrics.jsonl line of an epoch: training sums, then a pass over the validation split
    (with its size) if there is one, and over the test split."""
    record = {"epoch": epoch + 1,
              "train_loss": position.loss_sum / position.images,
              "train_acc": position.correct / position.seen}
    for split, x, y in (("val", data.x_val, data.y_val), ("test", data.x_test, data.y_test)):
        if x is None:
            continue
        loss, matrix = evaluate(model, x, y, len(data.classes), world=world)
        record |= {f"{split}_loss": loss, f"{split}_acc": metrics.accuracy(matrix)}
        if data.task == "segment":
            record[f"{split}_miou"] = metrics.mean_iou(matrix)
        if split == "val":
            record["val_examples"] = len(x)
    return record | {"lr": lr, "images_per_s": round(position.images / position.seconds, 1)}


def evaluate(model: Model, x: np.ndarray, y: np.ndarray, classes: int,
             batch: int = EVAL_BATCH, world: distributed.World | None = None
             ) -> tuple[float, np.ndarray]:
    """(mean loss, confusion matrix) of the model in evaluation mode over x, y; with several
    ranks each scores a contiguous share and the sums are added up."""
    if world is not None and world.size > 1:
        lo, hi = (len(x) * world.rank // world.size, len(x) * (world.rank + 1) // world.size)
        loss, matrix = evaluate(model, x[lo:hi], y[lo:hi], classes, batch)
        sums = world.sum(np.concatenate([[loss * y[lo:hi].size], matrix.ravel()]))
        return float(sums[0]) / max(y.size, 1), sums[1:].round().astype(np.int64).reshape(
            matrix.shape)
    total, matrix = 0.0, np.zeros((classes, classes), np.int64)
    for a in range(0, len(x), batch):
        logits = model.forward(x[a:a + batch])
        labels = model.xp.asarray(y[a:a + batch])
        loss, _ = softmax_cross_entropy(model.xp, logits, labels)
        total += float(loss) * labels.size
        predicted = to_host(logits.argmax(axis=1))
        matrix += metrics.confusion(y[a:a + batch], predicted, classes)
    return total / max(y.size, 1), matrix


def _train_step(model: Model, optimizer: Optimizer, x: np.ndarray, y: np.ndarray,
                lr: float) -> tuple[float, int, int, int]:
    """One optimizer step; (batch loss, correct predictions, values scored, images)
    measured before the update."""
    xp = model.xp
    labels = xp.asarray(y)
    logits = model.forward(x, training=True)
    loss, dlogits = softmax_cross_entropy(xp, logits, labels)
    correct = int((logits.argmax(axis=1) == labels).sum())
    loss = float(loss)
    if math.isfinite(loss):
        optimizer.step(model.backward(dlogits), lr)
        model.changed()
    return loss, correct, labels.size, len(x)


def _batches(data: Data, config: TrainConfig, epoch: int, skip: int, rank: int = 0,
             ranks: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The epoch's shuffled full batches (a last partial batch is dropped, so every step sees
    batch_size examples), from batch number `skip` on, on the host; --flip and --crop change
    them here, each from its own generator of (seed, step). Of `ranks`, `rank` takes share
    number `rank` of each: a rule of (seed, step) and the rank alone, so the global batches
    are the same for any number of ranks (augmented whole, then shared, for the same draws)."""
    order = np.random.default_rng([config.seed, epoch]).permutation(len(data.x_train))
    b, steps = config.batch_size, len(order) // config.batch_size
    fill = -data.mean / data.std  # a zero pixel, normalised: --crop's border is black
    share = slice(b * rank // ranks, b * (rank + 1) // ranks)
    augments = config.flip or config.crop
    for i in range(skip, steps):
        index = np.sort(order[i * b:(i + 1) * b])  # sorted: a gather that walks memory forward
        index = index if augments else index[share]
        x, y = data.x_train[index], data.y_train[index]
        step = epoch * steps + i
        if config.flip:
            mirror_half(x, y, np.random.default_rng([config.seed, step, 1]))
        if config.crop:
            x, y = random_crop(x, y, config.crop, fill,
                               np.random.default_rng([config.seed, step, 2]))
        yield (x[share], y[share]) if augments else (x, y)


def _summary(record: dict) -> str:
    """One line per epoch; a terminal wraps it at the " | " between its parts."""
    parts = [f"epoch {record['epoch']}: {_scores(record, 'train')}"]
    parts += [_scores(record, split) for split in ("val", "test") if f"{split}_loss" in record]
    return " | ".join(parts) + f" | {record['seconds']:.1f} s, {record['images_per_s']:,.0f} img/s"


def _scores(record: dict, split: str) -> str:
    miou = f" mIoU {record[f'{split}_miou']:.3f}" if f"{split}_miou" in record else ""
    return f"{split} loss {record[f'{split}_loss']:.4f} acc {record[f'{split}_acc']:.2%}{miou}"
