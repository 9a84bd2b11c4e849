"""What `cnnc run` checks before a run costs anything (output paths, an earlier run in the way,
memory, the spec's output against the data), and the options and checkpoints those checks read.
Shared by training (cnnc/run.py) and by evaluation and inference (cnnc/predict.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from cnnc.compiler import Compiled
from cnnc.shape_text import parse_shape
from cnnc_runtime import checkpoint
from cnnc_runtime.data import DataError, Dataset
from cnnc_runtime.memory_check import check_activations
from cnnc_runtime.model import Model
from cnnc_runtime.wording import plural


class RunUsage(ValueError):
    """Options that do not go together; exit code 2."""


def load_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """checkpoint.load, with a note when the file has no checksum to verify its data by."""
    tensors, meta = checkpoint.load(path)
    if checkpoint.CHECKSUM not in meta:
        print(f"cnnc run: note: {path} has no checksum (not written by cnnc); its data is not "
              "verified", file=sys.stderr)
    return tensors, meta


def check_batch(model: Model, batch: int, training: bool) -> None:
    check_activations(model.plan, model.xp, batch, model.dtype.itemsize, training)


def check_output(compiled: Compiled, ds: Dataset) -> None:
    """DataError unless the spec's output is one score per class (per pixel, for segmentation)."""
    out, k = compiled.output_shape, len(ds.classes)
    if ds.task == "segment":
        want = (k, *ds.y_train.shape[1:])
        if tuple(out) != want:
            raise DataError(f"'{compiled.name}' outputs {fmt(out)} but {ds.name} needs class "
                            f"scores per pixel, {fmt(want)}: set the last conv's `out` to {k}"
                            " and keep the output the size of the input")
    elif tuple(out) != (k,):
        raise DataError(f"'{compiled.name}' outputs {fmt(out)} but {ds.name} has "
                        f"{plural(k, 'class')}: make the last layer's `out` {k}")


def check_not_overwriting(existing: Path, resume: Path | None, overwrite: bool) -> None:
    """RunUsage when a new run would replace the checkpoint `existing` of an earlier one: only
    --overwrite, or resuming that very checkpoint, may write over it."""
    if not existing.exists() or overwrite:
        return
    if resume is not None and existing.resolve() == resume.resolve():
        return
    raise RunUsage(f"{existing} already holds a run; continue it with --resume {existing}, "
                   "write this one elsewhere with --out DIR, or replace it with --overwrite")


def writable_dir(path: Path) -> None:
    """Check that the --out directory can be made and written to, without making it (RunUsage if
    not), so a run fails before its work rather than when it first saves."""
    if path.exists() and not path.is_dir():
        raise RunUsage(f"--out '{path}' is a file; name a directory (it is made if missing)")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise RunUsage(f"--out '{path}': '{existing}' is a file, so no directory can be made "
                       "there; name another directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunUsage(f"--out '{path}': permission denied in '{existing}'; name a directory "
                       "you can write to")


def writable_file(path: Path) -> None:
    """Check that the --output file can be written, without making it (RunUsage if not)."""
    if path.is_dir():
        raise RunUsage(f"--output '{path}' is a directory; name a file in it, e.g. "
                       f"'{path / 'predictions.csv'}'")
    if not path.parent.is_dir():
        raise RunUsage(f"--output '{path}': there is no directory '{path.parent}'")
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise RunUsage(f"--output '{path}': permission denied; name a file you can write")


def shape_option(args: argparse.Namespace) -> tuple[int, ...] | None:
    """--input as a shape (3x32x32) in --train and --eval; in --infer it names files."""
    if not args.input or args.infer:
        return None
    if len(args.input) != 1:
        raise RunUsage("--input takes one shape here, e.g. --input 1x32x32")
    try:
        return parse_shape(args.input[0])
    except argparse.ArgumentTypeError as e:
        raise RunUsage(str(e)) from None


def meta_shape(meta: dict[str, str]) -> tuple[int, ...] | None:
    """The input shape a training checkpoint was trained at, if it says."""
    text = meta.get("input_shape")
    return tuple(int(v) for v in text.split("x")) if text else None


def data_seed(args: argparse.Namespace, meta: dict[str, str]) -> int:
    """--seed, else the seed of the checkpoint's run: a generated set is generated the same."""
    if args.seed is not None:
        return args.seed
    return json.loads(meta.get("config", "{}")).get("seed", 0)


def fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))
