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
    for option, path in (("-o", args.output), ("--weights", args.weights)):
        if path is not None and not Path(path).resolve().parent.is_dir():
            print(f"cnnc import-onnx: error: {option} '{path}': no directory "
                  f"'{Path(path).parent}' to write into", file=sys.stderr)
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
    try:
        Path(args.output).write_text(text)
    except OSError as e:
        print(f"cnnc import-onnx: error: cannot write '{args.output}': {e.strerror}",
              file=sys.stderr)
        return 1
    print(f"wrote {args.output}: '{compiled.name}', {len(compiled.layers)} layers, "
          f"{compiled.totals.params:,} parameters")
    if args.weights is not None:
        try:
            checkpoint.save(args.weights, tensors, {"spec": compiled.name,
                                                    "source": str(args.model)})
        except OSError as e:
            print(f"cnnc import-onnx: error: cannot write '{args.weights}': {e.strerror}",
                  file=sys.stderr)
            return 1
        print(f"wrote {args.weights}: {len(tensors)} tensors")
    return 0
