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


# Evaluation and inference ---------------------------------------------------------------

def _trained(args: argparse.Namespace) -> tuple[Compiled, Model, dict[str, str], np.ndarray,
                                                  np.ndarray, list[str] | None]:
    """The model of --weights: (compiled spec, model with the weights, metadata, mean, std,
    class names or None). A training checkpoint brings its input shape, normalisation and
    class names; a plain weights file (`cnnc import`) none of them."""
    if args.weights is None:
        raise RunUsage(f"--{'eval' if args.eval else 'infer'} needs --weights CHECKPOINT")
    tensors, meta = _load(args.weights)
    shape = _shape_option(args) or _meta_shape(meta)
    compiled = compile_file(args.spec, shape, args.max_layers)
    model = Model(lower(compiled, device=args.device), xp=array_module(args.device))
    load_weights(model, tensors, args.weights)
    c = compiled.input_shape[0]
    mean = tensors.get("data.mean", np.zeros(c, np.float32))
    std = tensors.get("data.std", np.ones(c, np.float32))
    classes = json.loads(meta["classes"]) if "classes" in meta else None
    return compiled, model, meta, mean, std, classes


def _evaluate(args: argparse.Namespace) -> int:
    if not args.data:
        raise RunUsage("--eval needs --data DATASET")
    compiled, model, meta, mean, std, classes = _trained(args)
    _check_batch(model, EVAL_BATCH, training=False)
    ds = fit_to_input(load_dataset(args.data, _seed(args, meta)), compiled.input_shape)
    ds = dataclasses.replace(ds, x_test=standardise(ds.x_test, mean, std))
    _check_output(compiled, ds)
    loss, matrix = evaluate(model, ds.x_test, ds.y_test, len(ds.classes))
    names = classes or ds.classes
    print(f"{compiled.name} on {args.data} (test split, {len(ds.x_test):,} examples): "
          f"loss {loss:.4f}, accuracy {metrics.accuracy(matrix):.2%}")
    if ds.task == "segment":
        per_class = metrics.iou(matrix)
        print(f"mean IoU {metrics.mean_iou(matrix):.3f}; per class: "
              + ", ".join(f"{n} {v:.3f}" for n, v in zip(names, per_class)))
    print("confusion matrix (rows: true class, columns: predicted)")
    print(metrics.render_confusion(matrix, names))
    return 0


def _infer(args: argparse.Namespace) -> int:
    compiled, model, meta, mean, std, classes = _trained(args)
    paths = [Path(p) for p in (args.input or [])]
    if not (args.data or paths):
        raise RunUsage("--infer needs files (--input a.png b.npy ...) or --data DATASET")
    if len(compiled.output_shape) > 1:  # class scores per pixel: masks go to --out
        _writable_dir(args.out or Path("masks"))
    elif args.output is not None:
        _writable_file(args.output)
    # Files hold at least one example each; a data set's test split is assumed to fill a batch.
    _check_batch(model, EVAL_BATCH if args.data else min(EVAL_BATCH, len(paths)), training=False)
    truth = None
    if args.data:
        ds = fit_to_input(load_dataset(args.data, _seed(args, meta)), compiled.input_shape)
        names, x, truth = [f"{args.data}:test:{i}" for i in range(len(ds.x_test))], ds.x_test, \
            ds.y_test
    else:
        names, x = _read_inputs(paths, compiled.input_shape)
    probabilities = []
    for a in range(0, len(x), EVAL_BATCH):
        logits = to_host(model.forward(standardise(x[a:a + EVAL_BATCH], mean, std)))
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities.append(z / z.sum(axis=1, keepdims=True))
    p = np.concatenate(probabilities)
    labels = classes or [str(i) for i in range(p.shape[1])]
    if p.ndim > 2:
        return _write_masks(args, names, p, labels, x, truth)
    return _report_top_k(args, names, p, labels)


def _report_top_k(args: argparse.Namespace, names: list[str], p: np.ndarray,
                  labels: list[str]) -> int:
    k = min(args.top_k, p.shape[1])
    top = np.argsort(-p, axis=1, kind="stable")[:, :k]
    shown = names if args.output is None else names[:20]
    for name, row, order in zip(shown, p, top):
        print(f"{name}: " + ", ".join(f"{labels[j]} {row[j]:.1%}" for j in order))
    if args.output is not None:
        with open(args.output, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["input", *[c for i in range(1, k + 1) for c in (f"class_{i}",
                                                                            f"prob_{i}")]])
            for name, row, order in zip(names, p, top):
                w.writerow([name, *[c for j in order for c in (labels[j], f"{row[j]:.6f}")]])
        more = f" (first {len(shown)} shown)" if len(shown) < len(names) else ""
        print(f"wrote {len(names)} predictions to {args.output}{more}")
    return 0


def _write_masks(args: argparse.Namespace, names: list[str], p: np.ndarray,
                 labels: list[str], x: np.ndarray, truth: np.ndarray | None) -> int:
    """Segmentation: one palette PNG per input, each pixel its most likely class; with a data
    set, also side_by_side.png: the first inputs with their true and predicted masks."""
    from PIL import Image
    out = args.out or Path("masks")
    out.mkdir(parents=True, exist_ok=True)
    palette = _palette(len(labels))
    masks = p.argmax(axis=1).astype(np.uint8)  # (N, H, W)
    for i, (name, mask) in enumerate(zip(names, masks)):
        image = Image.fromarray(mask, mode="P")
        image.putpalette(palette.reshape(-1).tolist())
        stem = Path(name).stem if not name.count(":") else f"{i:05d}"
        image.save(out / f"{stem}_mask.png")
        present = ", ".join(labels[c] for c in np.unique(mask) if c != 0)
        if i < 20:
            print(f"{name}: {out / f'{stem}_mask.png'}  ({present or 'background only'})")
    print(f"wrote {len(masks)} masks to {out}/ (palette: {', '.join(labels)})")
    if truth is not None:
        from runtime.figures import plot_masks
        plot_masks(out / "side_by_side.png", x[:SIDE_BY_SIDE], truth[:SIDE_BY_SIDE],
                   masks[:SIDE_BY_SIDE], palette, labels)
        print(f"wrote {out / 'side_by_side.png'}: input, truth and prediction of the first "
              f"{min(SIDE_BY_SIDE, len(masks))}")
    return 0


def _palette(n: int) -> np.ndarray:
    """n distinct colours, background black: evenly spaced hues at full saturation."""
    import colorsys
    colours = [(0, 0, 0)] + [tuple(int(255 * v) for v in colorsys.hsv_to_rgb(i / (n - 1), 0.75,
                                                                            0.95))
                             for i in range(n - 1)]
    return np.array(colours, np.uint8)


def _read_inputs(paths: list[Path], shape: tuple[int, ...]) -> tuple[list[str], np.ndarray]:
    """Files -> (a name per example, (N, *shape) float32): images through Pillow (gray or RGB
    as the spec's channels say, scaled to [0, 1]) and .npy arrays of one example or a batch
    (named FILE[i]), fitted to the input like training data."""
    names, arrays = [], []
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        if path.suffix.lower() == ".npy":
            try:
                a = np.load(path, allow_pickle=False).astype(np.float32)
            except (ValueError, OSError) as e:
                raise DataError(f"{path}: not a readable .npy array ({e})") from None
            if a.ndim == len(shape) + 1:  # a batch
                names.extend(f"{path}[{i}]" for i in range(len(a)))
                arrays.extend(a)
            else:
                names.append(str(path))
                arrays.append(a)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            from PIL import Image, UnidentifiedImageError
            try:
                with Image.open(path) as image:
                    image = image.convert("RGB" if shape[0] == 3 else "L")
                    a = np.asarray(image, np.float32) / 255.0  # (H, W) or (H, W, 3)
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"{path}: not a readable image ({e})") from None
            names.append(str(path))
            arrays.append(a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0))
        else:
            raise DataError(f"{path}: give images ({', '.join(sorted(IMAGE_SUFFIXES))}) or "
                            ".npy arrays")
    return names, np.stack([_fit_one(a, shape) for a in arrays]).astype(np.float32)


def _fit_one(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One example (C, *S), or (*S) without a channel axis, fitted to the spec's input the way
    training data is (runtime/data's fit_to_input)."""
    if a.ndim == len(shape) - 1:
        a = a[None]
    one = Dataset("input", a[None], np.zeros(1, np.int64), a[None], np.zeros(1, np.int64),
                  ["?"], "classify")
    return fit_to_input(one, shape).x_test[0]


# Small helpers ----------------------------------------------------------------------------

def _load(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """checkpoint.load, with a note when the file has no checksum to verify its data by."""
    tensors, meta = checkpoint.load(path)
    if checkpoint.CHECKSUM not in meta:
        print(f"cnnc run: note: {path} has no checksum (not written by cnnc); its data is not "
              "verified", file=sys.stderr)
    return tensors, meta


def _check_batch(model: Model, batch: int, training: bool) -> None:
    check_activations(model.plan, model.xp, batch, model.dtype.itemsize, training)


def _writable_dir(path: Path) -> None:
    """Check that the --out directory can be made and written to, without making it (RunUsage
    if not), so a run fails before its work rather than when it first saves."""
    if path.exists() and not path.is_dir():
        raise RunUsage(f"--out '{path}' is a file; name a directory (it is made if missing)")
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise RunUsage(f"--out '{path}': '{existing}' is a file, so no directory can be made "
                       "there; name another directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise RunUsage(f"--out '{path}': permission denied in '{existing}'; name a directory "
                       "you can write to")


def _writable_file(path: Path) -> None:
    """Check that the --output file can be written, without making it (RunUsage if not)."""
    if path.is_dir():
        raise RunUsage(f"--output '{path}' is a directory; name a file in it, e.g. "
                       f"'{path / 'predictions.csv'}'")
    if not path.parent.is_dir():
        raise RunUsage(f"--output '{path}': there is no directory '{path.parent}'")
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise RunUsage(f"--output '{path}': permission denied; name a file you can write")


def _shape_option(args: argparse.Namespace) -> tuple[int, ...] | None:
    """--input as a shape (3x32x32) in --train and --eval; in --infer it names files."""
    if not args.input or args.infer:
        return None
    from cnnc.cli import parse_shape
    if len(args.input) != 1:
        raise RunUsage("--input takes one shape here, e.g. --input 1x32x32")
    try:
        return parse_shape(args.input[0])
    except argparse.ArgumentTypeError as e:
        raise RunUsage(str(e)) from None


def _meta_shape(meta: dict[str, str]) -> tuple[int, ...] | None:
    text = meta.get("input_shape")
    return tuple(int(v) for v in text.split("x")) if text else None


def _seed(args: argparse.Namespace, meta: dict[str, str]) -> int:
    if args.seed is not None:
        return args.seed
    return json.loads(meta.get("config", "{}")).get("seed", 0)


def _fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))
