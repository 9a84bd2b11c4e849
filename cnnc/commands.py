"""The small commands: `cnnc import` (another framework's weights into a checkpoint), `cnnc zoo`
and `cnnc schema`."""

from __future__ import annotations

import argparse
import json
import sys
import warnings


def import_weights(args: argparse.Namespace) -> int:
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

def zoo() -> int:
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


def schema() -> int:
    from cnnc.spec.schema import json_schema
    print(json.dumps(json_schema(), indent=2))
    return 0
