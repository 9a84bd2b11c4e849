"""`cnnc import-onnx model.onnx -o net.yaml [--weights net.safetensors]`: an ONNX CNN as a
readable spec and a checkpoint with cnnc's parameter names."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path


def import_onnx_command(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("onnx") is None:  # an optional extra: say what to install
        print("cnnc import-onnx: error: ONNX import needs the onnx package: "
              "pip install 'cnnc[onnx]'", file=sys.stderr)
        return 2
    if args.weights is not None and args.weights.suffix != ".safetensors":
        print(f"cnnc import-onnx: error: --weights '{args.weights}': checkpoints are "
              ".safetensors files", file=sys.stderr)
        return 2
    import onnx
    from google.protobuf.message import DecodeError

    from cnnc.compiler import compile_text
    from cnnc.onnx_import.model import import_model
    from cnnc_runtime import checkpoint

    try:
        model = onnx.load(str(args.model))
    except (OSError, DecodeError) as e:
        print(f"cnnc import-onnx: error: cannot read '{args.model}': {e}", file=sys.stderr)
        return 1
    text, tensors = import_model(model, Path(args.model).name, Path(args.model).stem)
    compiled = compile_text(text, str(args.output))
    Path(args.output).write_text(text)
    print(f"wrote {args.output}: '{compiled.name}', {len(compiled.layers)} layers, "
          f"{compiled.totals.params} parameters")
    if args.weights is not None:
        checkpoint.save(args.weights, tensors, {"spec": compiled.name,
                                                "source": str(args.model)})
        print(f"wrote {args.weights}: {len(tensors)} tensors")
    return 0
