"""`cnnc run`: compile a spec, lower it, and hand the Plan and the data to the runtime to train,
evaluate or predict. Everything here is glue between the command line and runtime/; the loop,
the data sets and the metrics live there.

Exit codes (as in cnnc/cli.py): 0 done, 1 a spec, data or checkpoint error, or a model or batch
too big for the memory available, 2 usage (option values and output paths, checked before any
data loads); a training run that diverged exits 4 and one stopped by Ctrl-C exits 130 (both
after saying where the last good checkpoint is).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from cnnc.compiler import Compiled, compile_file
from cnnc.lower import lower
from runtime import checkpoint, metrics
from runtime.data import DataError, Dataset, fit_to_input, load_dataset, normalise, standardise
from runtime.device import DeviceError, array_module, to_host
from runtime.memory_check import check_activations
from runtime.model import Model
from runtime.train import (
    CHECKPOINT,
    EVAL_BATCH,
    Data,
    RunError,
    TrainConfig,
    evaluate,
    load_weights,
    train,
)

DIVERGED, INTERRUPTED = 4, 130
SIDE_BY_SIDE = 4  # examples in the segmentation overview picture
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


class RunUsage(ValueError):
    """Options that do not go together; exit code 2."""


def run(args: argparse.Namespace) -> int:
    """Dispatch `cnnc run` on its mode; user-facing failures become one line and an exit code."""
    from runtime import jit

    if args.threads is not None and not 1 <= args.threads <= jit.max_threads():
        print(f"cnnc run: error: --threads must be between 1 and {jit.max_threads()} (this "
              f"machine's cores), got {args.threads}", file=sys.stderr)
        return 2
    jit.set_threads(args.threads or jit.max_threads())
    try:
        if args.train:
            return _train(args)
        if args.eval:
            return _evaluate(args)
        return _infer(args)
    except RunUsage as e:
        print(f"cnnc run: error: {e}", file=sys.stderr)
        return 2
    except (DataError, DeviceError, RunError, checkpoint.CheckpointError, ValueError) as e:
        print(f"cnnc run: error: {e}", file=sys.stderr)
        return 1


# Training ---------------------------------------------------------------------------------

def _train(args: argparse.Namespace) -> int:
    if not args.data:
        raise RunUsage("--train needs --data (mnist1d, digits, fashion-mnist, fashion-scenes, "
                       "idx:PATH, npz:PATH or folder:PATH)")
    shape = _shape_option(args)
    resume_meta = None
    if args.resume is not None:
        resume_meta = _load(args.resume)[1]
        shape = shape or _meta_shape(resume_meta)
    compiled = compile_file(args.spec, shape, args.max_layers)
    out = args.out or (args.resume.parent if args.resume else Path("runs") / compiled.name)
    _writable_dir(out)
    config = _config(args, resume_meta)
    model = Model(lower(compiled, device=args.device), xp=array_module(args.device),
                  seed=config.seed)
    _check_batch(model, config.batch_size, training=True)
    _check_batch(model, EVAL_BATCH, training=False)  # each epoch ends with a test pass
    data = _data(args.data, compiled, config.seed)
    print(f"{compiled.name}: {compiled.totals.params:,} parameters, input "
          f"{_fmt(compiled.input_shape)}; {args.data}: {len(data.x_train):,} training and "
          f"{len(data.x_test):,} test examples, {len(data.classes)} classes; writing {out}/",
          file=sys.stderr)
    outcome = train(model, data, config, out, _identity(compiled, args.data), sys.stderr,
                    resume=args.resume)
    if outcome.stopped == "diverged":
        print(f"cnnc run: stopped: {outcome.message}", file=sys.stderr)
        return DIVERGED
    if outcome.stopped == "interrupted":
        print(f"cnnc run: {outcome.message}; continue with: cnnc run {args.spec} --train "
              f"--data {args.data} --resume {out / CHECKPOINT}", file=sys.stderr)
        return INTERRUPTED
    last = outcome.history[-1] if outcome.history else None
    if last is not None:
        print(f"test accuracy {last['test_acc']:.2%}"
              + (f", mean IoU {last['test_miou']:.3f}" if "test_miou" in last else "")
              + f" after {last['epoch']} epochs; {out / CHECKPOINT}, metrics.jsonl, curves.png")
    return 0


def _config(args: argparse.Namespace, resume_meta: dict | None) -> TrainConfig:
    """The run's settings: the checkpoint's on --resume (only --epochs may change), else the
    options given, over TrainConfig's defaults."""
    if resume_meta is not None:
        saved = TrainConfig(**json.loads(resume_meta.get("config", "{}")))
        return saved if args.epochs is None else dataclasses.replace(saved, epochs=args.epochs)
    given = {k: getattr(args, k) for k in TrainConfig.__dataclass_fields__
             if getattr(args, k, None) is not None}
    return TrainConfig(**given)


def _data(source: str, compiled: Compiled, seed: int) -> Data:
    """The data set, fitted to the spec's input, normalised by the training split's statistics,
    and checked against the spec's output."""
    ds, mean, std = normalise(fit_to_input(load_dataset(source, seed), compiled.input_shape))
    _check_output(compiled, ds)
    return Data(**vars(ds), mean=mean, std=std)


def _check_output(compiled: Compiled, ds: Dataset) -> None:
    out, k = compiled.output_shape, len(ds.classes)
    if ds.task == "segment":
        want = (k, *ds.y_train.shape[1:])
        if tuple(out) != want:
            raise DataError(f"'{compiled.name}' outputs {_fmt(out)} but {ds.name} needs class "
                            f"scores per pixel, {_fmt(want)}: set the last conv's `out` to {k}"
                            " and keep the output the size of the input")
    elif tuple(out) != (k,):
        raise DataError(f"'{compiled.name}' outputs {_fmt(out)} but {ds.name} has {k} classes: "
                        f"make the last layer's `out` {k}")


def _identity(compiled: Compiled, source: str) -> dict[str, str]:
    text = Path(compiled.file).read_bytes()
    return {"spec": compiled.name, "spec_sha256": hashlib.sha256(text).hexdigest(),
            "input_shape": _fmt(compiled.input_shape), "data": source}


