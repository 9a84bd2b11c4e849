"""`cnnc run`: compile a spec, lower it, and hand the Plan and the data to the runtime to train,
evaluate or predict. Everything here is glue between the command line and runtime/; the loop,
the data sets and the metrics live there. This module dispatches and trains; evaluation and
inference are cnnc/predict.py, and the checks both make before any work cnnc/run_checks.py.

Exit codes (as in cnnc/cli.py): 0 done, 1 a spec, data or checkpoint error, or a model or batch
too big for the memory available, 2 usage (option values, output paths and an earlier run in
the way, checked before any data loads); a training run that diverged exits 4 and one stopped by
Ctrl-C exits 130 (both after saying where the last good checkpoint is).

Under `mpiexec -n N` training is data-parallel (runtime/distributed.py, docs/distributed.md):
rank 0 prints and writes; another rank speaks only of an error of its own, naming itself, and
an error on any rank aborts the job (`_failed`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path

from cnnc import predict
from cnnc.compile_command import print_warnings
from cnnc.compiler import Compiled, compile_file
from cnnc.lower import lower
from cnnc.run_checks import (
    RunUsage,
    check_batch,
    check_not_overwriting,
    check_output,
    fmt,
    load_checkpoint,
    meta_shape,
    shape_option,
    writable_dir,
)
from cnnc_runtime import checkpoint, distributed
from cnnc_runtime.data import (
    DataError,
    fit_to_input,
    hold_out,
    load_dataset,
    normalise,
    standardise,
)
from cnnc_runtime.device import DeviceError, array_module, select_gpu
from cnnc_runtime.model import Model
from cnnc_runtime.run_state import CHECKPOINT, RunError, TrainConfig
from cnnc_runtime.train import EVAL_BATCH, Data, train
from cnnc_runtime.wording import plural

DIVERGED, INTERRUPTED = 4, 130


def run(args: argparse.Namespace) -> int:
    """Dispatch `cnnc run` on its mode; user-facing failures become one line and an exit code."""
    from cnnc_runtime import jit

    if args.threads is not None and not 1 <= args.threads <= jit.max_threads():
        print(f"cnnc run: error: --threads must be between 1 and {jit.max_threads()} (this "
              f"machine's cores), got {args.threads}", file=sys.stderr)
        return 2
    try:
        world = distributed.world() if args.train else distributed.Single()
    except distributed.DistributedError as e:
        print(f"cnnc run: error: {e}", file=sys.stderr)
        return 1
    # the ranks on one machine share its cores
    jit.set_threads(args.threads or max(1, jit.max_threads() // world.local_size))
    try:
        if args.train:
            return _train(args, world)
        if args.eval:
            return predict.evaluate(args)
        return predict.infer(args)
    except RunUsage as e:
        return _failed(world, 2, e)
    except (DataError, DeviceError, RunError, checkpoint.CheckpointError, ValueError) as e:
        return _failed(world, 1, e)


def _failed(world: distributed.World, code: int, error: Exception) -> int:
    """Report an error in one line and return its exit code. Under MPI the job is aborted:
    the other ranks would otherwise wait for this one in their next collective for ever (a
    plain exit does not make mpiexec stop them). A rank other than 0 waits a second first, so
    an error every rank meets (most are: the same options and data) is reported once, by rank
    0, whose abort ends the others while they wait."""
    if world.size > 1 and world.rank:
        time.sleep(1)
    who = f"rank {world.rank}: " if world.rank else ""
    print(f"cnnc run: {who}error: {error}", file=sys.stderr, flush=True)
    if world.size > 1:
        world.abort(code)
    return code


def _train(args: argparse.Namespace, world: distributed.World) -> int:
    if not args.data:
        raise RunUsage("--train needs --data (mnist1d, digits, fashion-mnist, fashion-scenes, "
                       "idx:PATH, npz:PATH or folder:PATH)")
    shape = shape_option(args)
    resume_meta = None
    if args.resume is not None:
        resume_meta = load_checkpoint(args.resume)[1]
        shape = shape or meta_shape(resume_meta)
    compiled = compile_file(args.spec, shape, args.max_layers)
    print_warnings(compiled)
    out = args.out or (args.resume.parent if args.resume else Path("runs") / compiled.name)
    writable_dir(out)
    check_not_overwriting(out / CHECKPOINT, args.resume, args.overwrite)
    config = _config(args, resume_meta)
    if args.device == "gpu" and world.size > 1:
        select_gpu(world.local_rank)  # one GPU per rank, before the first array
    model = Model(lower(compiled, device=args.device), xp=array_module(args.device),
                  seed=config.seed)
    check_batch(model, config.batch_size, training=True)
    check_batch(model, EVAL_BATCH, training=False)  # each epoch ends with a test pass
    data = _data(args.data, compiled, config)
    splits = [f"{len(data.x_train):,} training", f"{len(data.x_test):,} test"]
    if data.x_val is not None:
        splits.insert(1, f"{len(data.x_val):,} validation")
    speak = world.rank == 0
    if speak and world.size > 1:
        print(f"data-parallel over {world.describe()}", file=sys.stderr)
    # two lines: each fits a terminal of 80 columns
    print(f"{compiled.name}: {compiled.totals.params:,} parameters, input "
          f"{fmt(compiled.input_shape)}; writing {out}/\n{args.data}: "
          f"{', '.join(splits[:-1])} and {splits[-1]} examples, "
          f"{plural(len(data.classes), 'class')}", file=sys.stderr if speak else _QUIET)
    outcome = train(model, data, config, out, _identity(compiled, args.data), sys.stderr,
                    resume=args.resume, world=world)
    if outcome.stopped == "diverged":
        if speak:
            print(f"cnnc run: stopped: {outcome.message}", file=sys.stderr)
        return DIVERGED
    if outcome.stopped == "interrupted":
        if speak:
            print(f"cnnc run: {outcome.message}; continue with: cnnc run {args.spec} --train "
                  f"--data {args.data} --resume {out / CHECKPOINT}", file=sys.stderr)
        return INTERRUPTED
    if outcome.history and speak:
        last = outcome.history[-1]
        scores = [f"{split} accuracy {last[f'{split}_acc']:.2%}"
                  + (f", mean IoU {last[f'{split}_miou']:.3f}" if f"{split}_miou" in last else "")
                  for split in ("val", "test") if f"{split}_acc" in last]
        print(f"{'; '.join(scores)} after {plural(last['epoch'], 'epoch')}; "
              f"{out / CHECKPOINT}, metrics.jsonl, curves.png")
    return 0


class _Quiet:
    """Where the ranks other than 0 send what rank 0 alone prints."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


_QUIET = _Quiet()


def _config(args: argparse.Namespace, resume_meta: dict | None) -> TrainConfig:
    """The run's settings: the checkpoint's on --resume (only --epochs may change), else the
    options given, over TrainConfig's defaults."""
    if resume_meta is not None:
        saved = TrainConfig(**json.loads(resume_meta.get("config", "{}")))
        return saved if args.epochs is None else dataclasses.replace(saved, epochs=args.epochs)
    given = {k: getattr(args, k) for k in TrainConfig.__dataclass_fields__
             if getattr(args, k, None) is not None}
    return TrainConfig(**given)


def _data(source: str, compiled: Compiled, config: TrainConfig) -> Data:
    """The data set, fitted to the spec's input, with --val-split's share of the training split
    held out, normalised by the statistics of what is left to train on, and checked against
    the spec's output."""
    ds = fit_to_input(load_dataset(source, config.seed), compiled.input_shape)
    check_output(compiled, ds)
    if not config.val_split:
        ds, mean, std = normalise(ds)
        return Data(**vars(ds), mean=mean, std=std)
    ds, x_val, y_val = hold_out(ds, config.val_split, config.seed)
    ds, mean, std = normalise(ds)
    return Data(**vars(ds), mean=mean, std=std, x_val=standardise(x_val, mean, std),
                y_val=y_val)


def _identity(compiled: Compiled, source: str) -> dict[str, str]:
    text = Path(compiled.file).read_bytes()
    return {"spec": compiled.name, "spec_sha256": hashlib.sha256(text).hexdigest(),
            "input_shape": fmt(compiled.input_shape), "data": source}
