"""The `cnnc` command line. Results go to stdout (or `-o FILE`), diagnostics to stderr.

Exit codes: 0 ok, 1 a spec or compile error, 2 a usage error, 3 a diagram that Graphviz could
not draw (`dot` missing or failing): the DOT text was written instead, next to the asked-for file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

from cnnc.errors import CnncError
from cnnc.passes.input_sizes import MAX_SIZES
from cnnc.report.dot import RANKDIRS
from cnnc.shape_text import parse_shape
from cnnc.spec.limits import MAX_LAYERS

if TYPE_CHECKING:
    from cnnc.compiler import Compiled

DIAGRAMS = ("dot", "svg", "png", "pdf")
PAPER = ("markdown", "latex", "csv")  # the summary for documents and spreadsheets
FORMATS = ("table", "json", *PAPER, *DIAGRAMS)
EXTENSIONS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot",
              ".json": "json", ".txt": "table", ".md": "markdown", ".tex": "latex",
              ".csv": "csv"}


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
    try:
        if args.command == "compile":
            return _compile(args)
        if args.command == "import":
            return _import(args)
        if args.command == "run":
            from cnnc.run import run
            return run(args)
        if args.command == "zoo":
            return _zoo()
        return _schema()
    except CnncError as e:
        print(e, file=sys.stderr)
        return 1
    except BrokenPipeError:  # `cnnc compile x | head`
        sys.stderr.close()
        return 0


def _compile(args: argparse.Namespace) -> int:
    from cnnc.compiler import compile_file
    fmt = args.format or (EXTENSIONS.get(args.output.suffix.lower()) if args.output else "table")
    problem = _check_output(args, fmt)
    if problem:
        print(f"cnnc compile: error: {problem}", file=sys.stderr)
        return 2
    if args.input_sizes is not None:
        return _input_sizes(args, fmt)
    compiled = compile_file(args.spec, input_shape=args.input, max_layers=args.max_layers)
    print_warnings(compiled)
    plan = None
    if args.fuse:
        from cnnc.lower import lower
        plan = lower(compiled)
    if fmt == "json":
        doc = compiled.to_json()
        if plan is not None:
            from cnnc.report.fusion import fusion_json
            doc["lowering"] = fusion_json(plan)
        return _write(args.output, json.dumps(doc, indent=2) + "\n")
    if fmt == "table":
        text = compiled.table()
        if plan is not None:
            from cnnc.report.fusion import render_fusions
            text += render_fusions(plan)
        return _write(args.output, text)
    if fmt in PAPER:
        from cnnc.report import paper
        return _write(args.output, getattr(paper, f"render_{fmt}")(compiled))
    from cnnc.report.drawing import UNFOLDED, from_text
    drawing = compiled.diagram(args.depth, args.rankdir or "TB", font=args.font or "Helvetica",
                               **from_text(args.size, args.fold, args.dpi, args.fontsize))
    if fmt == "dot":
        return _write(args.output, drawing.dot)
    from cnnc.report.render import INSTALL_HINT, RenderError
    try:
        image, warnings = drawing.render(fmt)
    except RenderError as e:
        if args.output is None:
            print(f"cnnc: {e}; {INSTALL_HINT}, or use --format dot", file=sys.stderr)
            return 3
        fallback = args.output.with_suffix(".dot")
        if _write(fallback, drawing.dot):
            return 2
        print(f"cnnc: {e}, so {args.output} was not drawn; wrote {fallback} instead"
              + (f"; {INSTALL_HINT}" if e.missing else ""), file=sys.stderr)
        return 3
    if warnings and warnings[0].startswith(UNFOLDED):
        print(f"cnnc: warning: {warnings[0]}", file=sys.stderr)
    elif warnings:  # the one a user meets: a PNG too tall for a bitmap, scaled down to fit
        print(f"cnnc: warning: Graphviz says: {warnings[0]}; --depth N draws fewer nodes, "
              "and .svg and .pdf have no size limit", file=sys.stderr)
    return _write(args.output, image)


def print_warnings(compiled: Compiled) -> None:
    """The compile's warnings, on stderr: they do not change the exit code."""
    for warning in compiled.warnings:
        print(warning.render(), file=sys.stderr)


def parse_sizes(text: str) -> range:
    """`64..1024` (or one size, `572`) -> range(64, 1025); ValueError with a one-line reason."""
    first, dots, last = text.partition("..")
    if not (first.isdigit() and (last.isdigit() or not dots)):
        raise ValueError(f"'{text}' is not a range of sizes: write FIRST..LAST, e.g. 64..1024, "
                         "or one size")
    sizes = range(int(first), int(last if dots else first) + 1)
    if not sizes or sizes[0] < 1:
        raise ValueError(f"'{text}' holds no sizes: give 1 <= FIRST <= LAST")
    if len(sizes) > MAX_SIZES:
        raise ValueError(f"'{text}' holds {len(sizes):,} sizes; scan at most {MAX_SIZES:,} at "
                         "once")
    return sizes


def _input_sizes(args: argparse.Namespace, fmt: str) -> int:
    from cnnc.compiler import scan_input_sizes
    from cnnc.report.input_sizes import render_sizes, sizes_json
    try:
        sizes = parse_sizes(args.input_sizes) if args.input_sizes else None
    except ValueError as e:
        print(f"cnnc compile: error: --input-sizes: {e}", file=sys.stderr)
        return 2
    report = scan_input_sizes(args.spec, sizes, args.input, args.max_layers)
    if fmt == "json":
        return _write(args.output, json.dumps(sizes_json(report), indent=2) + "\n")
    return _write(args.output, render_sizes(report))


def _import(args: argparse.Namespace) -> int:
    from cnnc.compiler import compile_file
    from cnnc.lower import lower
    from cnnc_runtime import checkpoint
    from cnnc_runtime.importer import NamesDiffer, WeightsError, map_state_dict, read_arrays
    if args.output is not None and args.output.suffix != ".safetensors":
        print(f"cnnc import: error: -o '{args.output}': checkpoints are .safetensors files",
              file=sys.stderr)
        return 2
    compiled = compile_file(args.spec, input_shape=args.input)
    try:
        source, verified = read_arrays(args.weights)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NamesDiffer)
            mapping, arrays = map_state_dict(lower(compiled), source)
    except (checkpoint.CheckpointError, WeightsError) as e:
        print(f"cnnc import: error: {e}", file=sys.stderr)
        return 1
    for warning in caught:
        print(f"cnnc import: warning: {warning.message}; the mapping is listed below",
              file=sys.stderr)
    if not verified:
        print(f"cnnc import: note: {args.weights} has no checksum (not written by cnnc); its "
              "data is not verified", file=sys.stderr)
    width = max(len(m.source) for m in mapping)
    for m in mapping:
        print(f"{m.source:<{width}}  ->  {m.target:<{width}}  {'x'.join(map(str, m.shape))}")
    print(f"{len(mapping)} tensors mapped onto '{compiled.name}'")
    if args.output is not None:
        checkpoint.save(args.output, arrays, {"spec": compiled.name, "source": str(args.weights)})
        print(f"wrote {args.output}")
    return 0


def _check_output(args: argparse.Namespace, fmt: str | None) -> str | None:
    """What is wrong with the output options, as one line; None when they are fine."""
    out = args.output
    if out is not None and out.is_dir():
        return f"-o '{out}' is a directory; name a file in it, e.g. '{out / 'net.svg'}'"
    if fmt is None:
        return (f"cannot tell a format from '{out}': name it "
                f"{', '.join('*' + e for e in EXTENSIONS)}, or give --format")
    if out is not None and not out.parent.is_dir():
        return f"cannot write '{out}': there is no directory '{out.parent}'"
    if args.fuse and fmt not in ("table", "json"):
        return f"--fuse lists fusions in the table or the json, not in {fmt}"
    if args.input_sizes is not None and (fmt not in ("table", "json") or args.fuse):
        return (f"--input-sizes lists sizes in the table or the json, not {fmt}" if not args.fuse
                else "--input-sizes lists sizes; --fuse has nothing to add to them")
    if fmt not in DIAGRAMS and (args.depth is not None or args.rankdir is not None):
        return f"--depth and --rankdir shape diagrams ({', '.join(DIAGRAMS)}), not {fmt}"
    from cnnc.report.drawing import from_text
    styles = [f"--{name}" for name in ("size", "fold", "dpi", "font", "fontsize")
              if getattr(args, name) is not None]
    if fmt not in DIAGRAMS and styles:
        return f"{', '.join(styles)}: only for diagrams ({', '.join(DIAGRAMS)}), not {fmt}"
    if args.dpi is not None and fmt != "png":
        return f"--dpi sets the resolution of a png; {fmt} has none"
    try:
        from_text(args.size, args.fold, args.dpi, args.fontsize)
    except ValueError as e:
        return f"--{e}"
    return None


def _write(path: FsPath | None, result: str | bytes) -> int:
    """Write a result to `path`, or to stdout; a path that cannot be written is a usage error."""
    data = result.encode() if isinstance(result, str) else result
    if path is not None:
        try:
            path.write_bytes(data)
        except OSError as e:
            print(f"cnnc compile: error: cannot write '{path}': {e.strerror}", file=sys.stderr)
            return 2
    elif isinstance(result, str):
        sys.stdout.write(result)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0


def _zoo() -> int:
    from cnnc.compiler import compile_file
    from cnnc.ops.base import fmt
    from cnnc.report.units import si
    from cnnc.zoo import zoo_names
    rows = [("model", "input", "output", "params", "MACs", "about")]
    for name in zoo_names():
        c = compile_file(name)
        about = (c.doc or "").strip().splitlines()[0] if c.doc else ""
        rows.append((name, fmt(c.input_shape), fmt(c.output_shape), si(c.totals.params),
                     si(c.totals.macs), about))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].rjust(widths[2]),
                 r[3].rjust(widths[3]), r[4].rjust(widths[4]), r[5]]
        print("  ".join(cells).rstrip())
    return 0


def _schema() -> int:
    from cnnc.spec.schema import json_schema
    print(json.dumps(json_schema(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
