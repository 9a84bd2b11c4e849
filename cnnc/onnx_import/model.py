"""`import_model`: an onnx.ModelProto -> (spec text, tensors by cnnc name)."""

from __future__ import annotations

import numpy as np
import onnx

from cnnc.errors import Diagnostic
from cnnc.onnx_import.convert import OnnxImportError, checkpoint_tensors, convert
from cnnc.onnx_import.patterns import rewrite
from cnnc.onnx_import.reader import read
from cnnc.onnx_import.repeat import blocks
from cnnc.onnx_import.writer import spec_name, spec_text


def import_model(model: onnx.ModelProto, source: str = "<onnx>", name: str | None = None,
                 repeat: bool = True) -> tuple[str, dict[str, np.ndarray]]:
    """The spec YAML and the checkpoint tensors (cnnc's names) of `model`; `repeat` writes
    runs of identical layer sequences as blocks (repeat.py). OnnxImportError (a CnncError)
    lists every node cnnc has no layer for, and nothing is returned then."""
    try:
        g = read(model)
    except ValueError as e:
        raise OnnxImportError([Diagnostic("import", f"{source}: {e}")]) from None
    rewrite(g)
    layers, outputs = convert(g)
    items, qualified = blocks(layers, outputs) if repeat else (layers, {})
    text = spec_text(spec_name(name or model.graph.name), g.input_shape, items, outputs,
                     source)
    tensors = checkpoint_tensors(layers)
    return text, {_renamed(k, qualified): v for k, v in tensors.items()}


def _renamed(tensor: str, qualified: dict[str, str]) -> str:
    layer, _, name = tensor.rpartition(".")
    return f"{qualified.get(layer, layer)}.{name}"
