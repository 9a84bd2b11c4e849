"""`cnnc compile`: a spec's table, JSON, paper summary or diagram, to stdout or `-o FILE`.

Exit codes as cnnc/cli.py lists them; a usage error found here (an output that cannot be
written, options that do not fit the format) is 2, and a diagram Graphviz could not draw is 3.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path as FsPath
from typing import TYPE_CHECKING

from cnnc.passes.input_sizes import MAX_SIZES

if TYPE_CHECKING:
    from cnnc.compiler import Compiled

DIAGRAMS = ("dot", "svg", "png", "pdf")
PAPER = ("markdown", "latex", "csv")  # the summary for documents and spreadsheets
FORMATS = ("table", "json", *PAPER, *DIAGRAMS)
EXTENSIONS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot",
              ".json": "json", ".txt": "table", ".md": "markdown", ".tex": "latex",
              ".csv": "csv"}

def compile_command(args: argparse.Namespace) -> int:
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
        return write(args.output, json.dumps(doc, indent=2) + "\n")
    if fmt == "table":
        text = compiled.table()
        if plan is not None:
            from cnnc.report.fusion import render_fusions
            text += render_fusions(plan)
        return write(args.output, text)
    if fmt in PAPER:
        from cnnc.report import paper
        return write(args.output, getattr(paper, f"render_{fmt}")(compiled))
    from cnnc.report.drawing import UNFOLDED, from_text
    drawing = compiled.diagram(args.depth, args.rankdir or "TB", font=args.font or "Helvetica",
                               **from_text(args.size, args.fold, args.dpi, args.fontsize))
    if fmt == "dot":
        return write(args.output, drawing.dot)
    from cnnc.report.render import INSTALL_HINT, RenderError
    try:
        image, warnings = drawing.render(fmt)
    except RenderError as e:
        if args.output is None:
            print(f"cnnc: {e}; {INSTALL_HINT}, or use --format dot", file=sys.stderr)
            return 3
        fallback = args.output.with_suffix(".dot")
        if write(fallback, drawing.dot):
            return 2
        print(f"cnnc: {e}, so {args.output} was not drawn; wrote {fallback} instead"
              + (f"; {INSTALL_HINT}" if e.missing else ""), file=sys.stderr)
        return 3
    if warnings and warnings[0].startswith(UNFOLDED):
        print(f"cnnc: warning: {warnings[0]}", file=sys.stderr)
    elif warnings:  # the one a user meets: a PNG too tall for a bitmap, scaled down to fit
        print(f"cnnc: warning: Graphviz says: {warnings[0]}; --depth N draws fewer nodes, "
              "and .svg and .pdf have no size limit", file=sys.stderr)
    return write(args.output, image)


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
        return write(args.output, json.dumps(sizes_json(report), indent=2) + "\n")
    return write(args.output, render_sizes(report))

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


def write(path: FsPath | None, result: str | bytes) -> int:
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
