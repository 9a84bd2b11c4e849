"""The `cnnc` command line: its options and the dispatch to each command (cnnc/compile_command.py,
cnnc/commands.py, cnnc/run.py). Results go to stdout (or `-o FILE`), diagnostics to stderr.

Exit codes: 0 ok, 1 a spec or compile error, 2 a usage error, 3 a diagram that Graphviz could
not draw (`dot` missing or failing): the DOT text was written instead, next to the asked-for file.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
from collections.abc import Callable
from pathlib import Path as FsPath

from cnnc.commands import import_weights, schema, zoo
from cnnc.compile_command import EXTENSIONS, FORMATS, compile_command
from cnnc.errors import CnncError
from cnnc.report.dot import RANKDIRS
from cnnc.shape_text import parse_shape
from cnnc.spec.limits import MAX_LAYERS


def _depth(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not a depth: give 0, 1, 2, ...")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number >= 1")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    from cnnc import __version__
    parser = argparse.ArgumentParser(
        prog="cnnc", description="A declarative graph compiler for convolutional networks.")
    parser.add_argument("--version", action="version", version=f"cnnc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    compile_ = commands.add_parser(
        "compile", help="validate a spec and report shapes, parameters, MACs, memory and "
                        "receptive fields")
    compile_.add_argument("spec", metavar="SPEC", help="a YAML spec file, or a zoo model name")
    compile_.add_argument("--input", type=parse_shape, metavar="SHAPE",
                          help="override the spec's input shape, e.g. 3x32x32 (no batch axis)")
    compile_.add_argument("-o", "--output", type=FsPath, metavar="FILE",
                          help="write to FILE instead of stdout; its extension gives the format "
                               f"({', '.join(EXTENSIONS)})")
    compile_.add_argument("--format", choices=FORMATS,
                          help="what to write (default: from the -o extension, else table); "
                               "svg, png and pdf are drawn by Graphviz")
    compile_.add_argument("--input-sizes", nargs="?", const="", metavar="RANGE",
                          help="instead of the report, list the input sizes the network takes "
                               "in RANGE (FIRST..LAST, or one size; default 1 to 4 times the "
                               "input's size), on every spatial axis at once for a square input "
                               "and on each alone otherwise: those that fit, those where a pool "
                               "drops rows or columns, those that fail (table or json)")
    compile_.add_argument("--max-layers", type=_positive, default=MAX_LAYERS, metavar="N",
                          help=f"refuse a spec that expands to more than N layers ({MAX_LAYERS:,})")
    compile_.add_argument("--fuse", action="store_true",
                          help="also list what lowering fuses (conv+BN+ReLU, ...) and the "
                               "inference memory plan (table and json)")
    compile_.add_argument("--depth", type=_depth, metavar="N",
                          help="diagrams: draw block instances nested N deep as single nodes "
                               "with their totals (0: each top-level instance); default: every "
                               "layer")
    compile_.add_argument("--rankdir", type=str.upper, choices=RANKDIRS,
                          help="diagrams: direction of flow, TB (top to bottom, the default) or "
                               "LR (left to right, for wide pages)")
    compile_.add_argument("--size", metavar="PAGE",
                          help="diagrams: a page to fit, e.g. 10x7.5in or 25x19cm, or an aspect, "
                               "e.g. 16:9; a deep network is folded into columns (TB) or rows "
                               "(LR) to fill it")
    compile_.add_argument("--fold", metavar="N",
                          help="diagrams: fold into N columns (TB) or rows (LR); default: as "
                               "--size asks, else 1")
    compile_.add_argument("--dpi", metavar="DPI", help="png: dots per inch (96)")
    compile_.add_argument("--font", metavar="NAME",
                          help="diagrams: the typeface, e.g. 'DejaVu Sans' (Helvetica)")
    compile_.add_argument("--fontsize", metavar="PT",
                          help="diagrams: the size of the layers' text in points (10); titles "
                               "and labels keep their proportions")

    weights = commands.add_parser(
        "import", help="map a PyTorch-style state dict (.npz or .safetensors) onto a spec's "
                       "parameters, print the mapping and write a cnnc checkpoint")
    weights.add_argument("spec", metavar="SPEC", help="a YAML spec file, or a zoo model name")
    weights.add_argument("weights", type=FsPath, metavar="WEIGHTS",
                         help="name -> array in definition order, e.g. from PyTorch: np.savez("
                              "'w.npz', **{k: v.numpy() for k, v in model.state_dict().items()})")
    weights.add_argument("-o", "--output", type=FsPath, metavar="FILE",
                         help="write the weights under the spec's names to FILE (.safetensors)")
    weights.add_argument("--input", type=parse_shape, metavar="SHAPE",
                         help="override the spec's input shape (changes linear layer sizes)")

    _export_parser(commands)
    _import_onnx_parser(commands)
    _run_parser(commands)
    commands.add_parser("zoo", help="list the zoo models with their totals")
    commands.add_parser("schema", help="print the JSON Schema of the spec language")
    return parser


def _whole(least: int, most: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from `least` (to `most`); argparse names the option
    and exits 2 otherwise."""
    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least or (most is not None and value > most):
            span = f"from {least} to {most}" if most is not None else f">= {least}"
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number {span}")
        return value
    return whole


def _number(expected: str, ok: Callable[[float], bool]) -> Callable[[str], float]:
    """An argparse type: a finite float for which `ok` holds, else '<text>' is not `expected`."""
    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and ok(value)):
            raise argparse.ArgumentTypeError(f"'{text}' is not {expected}")
        return value
    return number


def _export_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="write a spec as an ONNX model (Netron, "
                                                "onnxruntime); needs pip install 'cnnc[onnx]'")
    export.add_argument("spec", metavar="SPEC", help="a YAML spec file, or a zoo model name")
    export.add_argument("-o", "--output", type=FsPath, metavar="FILE", required=True,
                        help="the .onnx file to write")
    export.add_argument("--weights", type=FsPath, metavar="CHECKPOINT",
                        help="a checkpoint of `cnnc run --train` or `cnnc import`; default: a "
                             "fresh initialisation")
    export.add_argument("--input", type=parse_shape, metavar="SHAPE",
                        help="override the spec's input shape (the batch axis stays dynamic)")
    export.add_argument("--opset", type=_whole(17, 21), default=17, metavar="N",
                        help="ONNX opset, 17 to 21 (17)")
    export.add_argument("--fold-bn", action="store_true",
                        help="fold each BatchNorm into the convolution before it")
    export.add_argument("--training-heads", action="store_true",
                        help="keep the training-only layers (auxiliary heads) as extra outputs")
    export.add_argument("--seed", type=_whole(0), default=0, metavar="S",
                        help="the fresh initialisation's seed (0)")


def _import_onnx_parser(commands: argparse._SubParsersAction) -> None:
    onnx = commands.add_parser("import-onnx", help="turn an ONNX CNN (e.g. from "
                               "torch.onnx.export) into a readable spec and a checkpoint")
    onnx.add_argument("model", type=FsPath, metavar="MODEL", help="an .onnx file")
    onnx.add_argument("-o", "--output", type=FsPath, metavar="FILE", required=True,
                      help="the spec to write (.yaml)")
    onnx.add_argument("--weights", type=FsPath, metavar="CHECKPOINT",
                      help="also write the model's weights as a cnnc checkpoint (.safetensors)")


def _run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run", help="train a spec on a data set, evaluate it, or predict with it (NumPy runtime)",
        description="Train (--train --data D), evaluate (--eval --data D --weights CKPT) or "
                    "predict (--infer --weights CKPT --input FILE...). Data sets: mnist1d, "
                    "digits, fashion-mnist, fashion-scenes, idx:DIR, npz:FILE, folder:DIR.")
    run.add_argument("spec", metavar="SPEC", help="a YAML spec file, or a zoo model name")
    mode = run.add_mutually_exclusive_group(required=True)
    mode.add_argument("--train", action="store_true", help="train on --data")
    mode.add_argument("--eval", action="store_true",
                      help="accuracy and confusion matrix of --weights on --data's test split")
    mode.add_argument("--infer", action="store_true",
                      help="top-k classes (or masks) of --weights for --input files or --data")
    run.add_argument("--data", metavar="DATASET", help="mnist1d, digits, fashion-mnist, "
                     "fashion-scenes, idx:DIR, npz:FILE or folder:DIR")
    run.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                     help="cpu: NumPy; gpu: CuPy on a CUDA GPU (pip install 'cnnc[gpu]') (cpu)")
    run.add_argument("--threads", type=int, metavar="N",
                     help="CPU threads for the kernels and BLAS (all cores)")
    run.add_argument("--max-layers", type=_positive, default=MAX_LAYERS, metavar="N",
                     help=f"refuse a spec that expands to more than N layers ({MAX_LAYERS:,})")
    run.add_argument("--input", nargs="+", metavar="SHAPE|FILE",
                     help="--train/--eval: the input shape, e.g. 1x32x32 (a checkpoint keeps "
                          "its own); --infer: image files or .npy arrays")
    train = run.add_argument_group("training (defaults in parentheses)")
    train.add_argument("--epochs", type=_whole(1), metavar="N",
                       help="passes over the data (10); with --resume, the total")
    train.add_argument("--batch-size", type=_whole(1), metavar="N", help="images per step (64)")
    train.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), help="(sgd)")
    train.add_argument("--lr", type=_number("a learning rate > 0, e.g. 0.01", lambda v: v > 0),
                       metavar="RATE", help="learning rate (0.01)")
    train.add_argument("--momentum", metavar="M", help="SGD momentum (0.9)",
                       type=_number("a momentum in [0, 1), e.g. 0.9", lambda v: 0 <= v < 1))
    train.add_argument("--nesterov", action="store_true", default=None,
                       help="Nesterov momentum (SGD)")
    train.add_argument("--weight-decay", metavar="W",
                       type=_number("a weight decay >= 0, e.g. 5e-4", lambda v: v >= 0),
                       help="L2 for sgd and adam, decoupled for adamw (0)")
    train.add_argument("--schedule", choices=("constant", "step", "cosine"),
                       help="learning-rate schedule (constant)")
    train.add_argument("--warmup-epochs", type=_whole(0), metavar="N",
                       help="linear warm-up before the schedule (0)")
    train.add_argument("--step-epochs", type=_whole(1), metavar="N",
                       help="step schedule: multiply the rate by --gamma every N epochs")
    train.add_argument("--gamma", metavar="G", help="step schedule factor (0.1)",
                       type=_number("a factor in (0, 1], e.g. 0.1", lambda v: 0 < v <= 1))
    train.add_argument("--flip", action="store_true", default=None,
                       help="mirror a random half of each batch left-right (off)")
    train.add_argument("--crop", type=_whole(1), metavar="P",
                       help="pad each example by P pixels and crop it back at a random offset "
                            "(off)")
    train.add_argument("--val-split", metavar="F",
                       type=_number("a fraction in (0, 1), e.g. 0.1", lambda v: 0 < v < 1),
                       help="hold out this fraction of the training split for validation (none)")
    train.add_argument("--sync-bn", action="store_true", default=None,
                       help="under mpiexec: BatchNorm statistics over every rank's share of "
                            "the batch (each rank's own)")
    train.add_argument("--shards", type=_whole(1), metavar="S",
                       help="compute each batch as S fixed shards, so that any number of ranks "
                            "that divides S trains to the same bits (one a rank)")
    train.add_argument("--seed", type=_whole(0, 2**32 - 1), metavar="S",
                       help="initialisation, shuffling, dropout and data generation (0)")
    train.add_argument("--out", type=FsPath, metavar="DIR", help="where checkpoint, metrics "
                       "and curves go (runs/SPEC; --eval: confusion.png, beside --weights; "
                       "segmentation --infer: masks)")
    train.add_argument("--resume", type=FsPath, metavar="CHECKPOINT",
                       help="continue a run exactly where it stopped")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --out (refused without it)")
    infer = run.add_argument_group("evaluation and inference")
    infer.add_argument("--weights", type=FsPath, metavar="CHECKPOINT",
                       help="a checkpoint of `cnnc run --train` or `cnnc import`")
    infer.add_argument("--top-k", type=_whole(1), default=3, metavar="K",
                       help="classes shown (3)")
    infer.add_argument("--output", type=FsPath, metavar="CSV",
                       help="--infer: write every prediction to this CSV file")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "run" and argv is None:
        # a short command from the shell: its objects (scopes, references, the graph) live until
        # the process ends anyway, and collecting cycles on the way costs ~12% of `cnnc compile
        # resnet152`'s wall time (445 -> 385 ms); training keeps the collector
        gc.disable()
    try:
        if args.command == "compile":
            return compile_command(args)
        if args.command == "import":
            return import_weights(args)
        if args.command == "export":
            from cnnc.export.command import export_command
            return export_command(args)
        if args.command == "import-onnx":
            from cnnc.onnx_import.command import import_onnx_command
            return import_onnx_command(args)
        if args.command == "run":
            from cnnc.run import run
            return run(args)
        if args.command == "zoo":
            return zoo()
        return schema()
    except CnncError as e:
        print(e, file=sys.stderr)
        return 1
    except BrokenPipeError:  # `cnnc compile x | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
