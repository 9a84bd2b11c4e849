"""`cnnc export SPEC -o net.onnx`: the ONNX model of a spec, with a checkpoint's weights or a
fresh initialisation."""

from __future__ import annotations

import argparse
import importlib.util
import sys


def export_command(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("onnx") is None:  # an optional extra: say what to install
        print("cnnc export: error: ONNX export needs the onnx package: pip install 'cnnc[onnx]'",
              file=sys.stderr)
        return 2
    import onnx

    from cnnc.compiler import compile_file
    from cnnc.export.model import to_onnx
    from cnnc_runtime import checkpoint

    compiled = compile_file(args.spec, input_shape=args.input)
    weights = None
    if args.weights is not None:
        try:
            weights, _ = checkpoint.load(args.weights)
        except (OSError, checkpoint.CheckpointError) as e:
            print(f"cnnc export: error: {e}", file=sys.stderr)
            return 1
    else:
        print(f"cnnc export: note: no --weights: '{compiled.name}' is exported with a fresh "
              f"initialisation (seed {args.seed})", file=sys.stderr)
    model = to_onnx(compiled, weights, args.opset, args.fold_bn, args.seed,
                    args.training_heads)
    onnx.save(model, args.output)
    print(f"wrote {args.output}: '{compiled.name}', {len(model.graph.node)} nodes, opset "
          f"{args.opset}{', BatchNorm folded' if args.fold_bn else ''}"
          f"{', training-only heads kept' if args.training_heads else ''}")
    return 0
