"""The `cnnc` command line. Results go to stdout, diagnostics to stderr.

Exit codes: 0 ok, 1 a spec or compile error, 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys

from cnnc.errors import CnncError


def parse_shape(text: str) -> tuple[int, ...]:
    """`3x224x224` (or `3,224,224`) -> (3, 224, 224)."""
    try:
        shape = tuple(int(p) for p in text.lower().replace(",", "x").split("x"))
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1 or len(shape) > 4:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a shape: write channels and sizes without the batch, e.g. 3x32x32")
    return shape


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
    compile_.add_argument("--format", choices=("table", "json", "dot"), default="table",
                          help="what to print (default: table)")

    commands.add_parser("zoo", help="list the zoo models with their totals")
    commands.add_parser("schema", help="print the JSON Schema of the spec language")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "compile":
            return _compile(args)
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
    compiled = compile_file(args.spec, input_shape=args.input)
    if args.format == "json":
        print(json.dumps(compiled.to_json(), indent=2))
    elif args.format == "dot":
        sys.stdout.write(compiled.to_dot())
    else:
        sys.stdout.write(compiled.table())
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
