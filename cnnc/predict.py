"""`cnnc run --eval` and `--infer`: score a checkpoint on a data set's test split (loss,
accuracy, the confusion matrix as a table and a picture, per-class IoU for segmentation), or
predict classes or masks for files and data sets.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np

from cnnc.compile_command import print_warnings
from cnnc.compiler import Compiled, compile_file
from cnnc.lower import lower
from cnnc.run_checks import (
    RunUsage,
    check_batch,
    check_output,
    data_seed,
    load_checkpoint,
    meta_shape,
    shape_option,
    writable_dir,
    writable_file,
)
from cnnc_runtime import metrics
from cnnc_runtime.data import DataError, Dataset, fit_to_input, load_dataset, standardise
from cnnc_runtime.device import array_module, to_host
from cnnc_runtime.model import Model
from cnnc_runtime.run_state import load_weights
from cnnc_runtime.train import EVAL_BATCH
from cnnc_runtime.train import evaluate as score
from cnnc_runtime.wording import plural

CONFUSION = "confusion.png"
SIDE_BY_SIDE = 4  # examples in the segmentation overview picture
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _trained(args: argparse.Namespace) -> tuple[Compiled, Model, dict[str, str], np.ndarray,
                                                  np.ndarray, list[str] | None]:
    """The model of --weights: (compiled spec, model with the weights, metadata, mean, std,
    class names or None). A training checkpoint brings its input shape, normalisation and
    class names; a plain weights file (`cnnc import`) none of them."""
    if args.weights is None:
        raise RunUsage(f"--{'eval' if args.eval else 'infer'} needs --weights CHECKPOINT")
    tensors, meta = load_checkpoint(args.weights)
    shape = shape_option(args) or meta_shape(meta)
    compiled = compile_file(args.spec, shape, args.max_layers)
    print_warnings(compiled)
    model = Model(lower(compiled, device=args.device), xp=array_module(args.device))
    load_weights(model, tensors, args.weights)
    c = compiled.input_shape[0]
    mean = tensors.get("data.mean", np.zeros(c, np.float32))
    std = tensors.get("data.std", np.ones(c, np.float32))
    classes = json.loads(meta["classes"]) if "classes" in meta else None
    return compiled, model, meta, mean, std, classes


def evaluate(args: argparse.Namespace) -> int:
    """--eval: the figures on stdout, the confusion matrix also as a picture, written next to
    the weights or into --out."""
    if not args.data:
        raise RunUsage("--eval needs --data DATASET")
    compiled, model, meta, mean, std, classes = _trained(args)
    out = args.out or args.weights.parent
    writable_dir(out)
    check_batch(model, EVAL_BATCH, training=False)
    ds = fit_to_input(load_dataset(args.data, data_seed(args, meta)), compiled.input_shape)
    ds = dataclasses.replace(ds, x_test=standardise(ds.x_test, mean, std))
    check_output(compiled, ds)
    loss, matrix = score(model, ds.x_test, ds.y_test, len(ds.classes))
    names = classes or ds.classes
    print(f"{compiled.name} on {args.data} (test split, {plural(len(ds.x_test), 'example')}): "
          f"loss {loss:.4f}, accuracy {metrics.accuracy(matrix):.2%}")
    iou = metrics.iou(matrix) if ds.task == "segment" else None
    if iou is not None:
        print(f"mean IoU {metrics.mean_iou(matrix):.3f} (per class in the table)")
    print("confusion matrix (rows: true class, columns: predicted class by number)")
    print(metrics.render_confusion(matrix, names, iou))
    from cnnc_runtime.figures import plot_confusion
    out.mkdir(parents=True, exist_ok=True)
    plot_confusion(out / CONFUSION, matrix, names, f"{compiled.name} on {args.data}", iou)
    print(f"wrote {out / CONFUSION}: the confusion matrix"
          + (" and per-class IoU" if iou is not None else ""))
    return 0


def infer(args: argparse.Namespace) -> int:
    """--infer: top-k classes (stdout, --output CSV), or one mask PNG per input."""
    compiled, model, meta, mean, std, classes = _trained(args)
    paths = [Path(p) for p in (args.input or [])]
    if not (args.data or paths):
        raise RunUsage("--infer needs files (--input a.png b.npy ...) or --data DATASET")
    if len(compiled.output_shape) > 1:  # class scores per pixel: masks go to --out
        writable_dir(args.out or Path("masks"))
    elif args.output is not None:
        writable_file(args.output)
    # Files hold at least one example each; a data set's test split is assumed to fill a batch.
    check_batch(model, EVAL_BATCH if args.data else min(EVAL_BATCH, len(paths)), training=False)
    truth = None
    if args.data:
        ds = fit_to_input(load_dataset(args.data, data_seed(args, meta)), compiled.input_shape)
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
        print(f"wrote {plural(len(names), 'prediction')} to {args.output}{more}")
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
    print(f"wrote {plural(len(masks), 'mask')} to {out}/ (palette: {', '.join(labels)})")
    if truth is not None:
        from cnnc_runtime.figures import plot_masks
        plot_masks(out / "side_by_side.png", x[:SIDE_BY_SIDE], truth[:SIDE_BY_SIDE],
                   masks[:SIDE_BY_SIDE], palette, labels)
        shown = min(SIDE_BY_SIDE, len(masks))
        print(f"wrote {out / 'side_by_side.png'}: input, truth and prediction of "
              + ("the first example" if shown == 1 else f"the first {shown} examples"))
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
    names, examples = [], []
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        if path.suffix.lower() == ".npy":
            batch = _read_npy(path, shape)
            names.extend([str(path)] if len(batch) == 1 else
                         [f"{path}[{i}]" for i in range(len(batch))])
            examples.extend(batch)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            from PIL import Image, UnidentifiedImageError
            try:
                with Image.open(path) as image:
                    image = image.convert("RGB" if shape[0] == 3 else "L")
                    a = np.asarray(image, np.float32) / 255.0  # (H, W) or (H, W, 3)
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"{path}: not a readable image ({e})") from None
            names.append(str(path))
            examples.append(_fit_one(a[None] if a.ndim == 2 else np.moveaxis(a, -1, 0), shape))
        else:
            raise DataError(f"{path}: give images ({', '.join(sorted(IMAGE_SUFFIXES))}) or "
                            ".npy arrays")
    return names, np.stack(examples).astype(np.float32)


def _read_npy(path: Path, shape: tuple[int, ...]) -> list[np.ndarray]:
    """A .npy file's examples, fitted to the spec's input (C, *S): one example (C, *S) or
    (*S), or a batch (N, C, *S), or for a one-channel spec (N, *S), N gray images rather than
    one image of N channels. DataError naming the shapes that work otherwise."""
    try:
        a = np.load(path, allow_pickle=False).astype(np.float32)
    except (ValueError, OSError) as e:
        raise DataError(f"{path}: not a readable .npy array ({e})") from None
    n = len(shape)
    batch = a.ndim == n + 1 or (a.ndim == n and shape[0] == 1)
    if n - 1 <= a.ndim <= n + 1:
        try:
            return [_fit_one(e, shape) for e in (a if batch else [a])]
        except DataError:  # the channels, or a signal's length, do not fit
            pass
    raise DataError(f"{path}: an array of shape {tuple(a.shape)} does not fit the spec's input "
                    f"{list(shape)}; give one of shape {npy_shapes(shape)}")


def npy_shapes(shape: tuple[int, ...]) -> str:
    """The shapes of a .npy array that --infer reads for a spec's input (C, *S), as text:
    "(H, W), (1, H, W), (N, H, W) or (N, 1, H, W)" for [1, 32, 32]. 2-D images are resized
    to the input, hence letters; other sizes must be the spec's."""
    c, *space = shape
    s = "H, W" if len(space) == 2 else ", ".join(map(str, space))
    if c == 1:
        forms = [f"({s},)" if len(space) == 1 else f"({s})", f"(1, {s})", f"(N, {s})",
                 f"(N, 1, {s})"]
    else:  # gray images become RGB by repeating the channel
        forms = [f"({s})"] * (c == 3 and len(space) == 2) + [f"({c}, {s})", f"(N, {c}, {s})"]
    return ", ".join(forms[:-1]) + " or " + forms[-1]


def _fit_one(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One example (C, *S), or (*S) without a channel axis, fitted to the spec's input the way
    training data is (runtime/data's fit_to_input)."""
    if a.ndim == len(shape) - 1:
        a = a[None]
    one = Dataset("input", a[None], np.zeros(1, np.int64), a[None], np.zeros(1, np.int64),
                  ["?"], "classify")
    return fit_to_input(one, shape).x_test[0]
