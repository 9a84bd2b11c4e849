"""`import_model`: an onnx.ModelProto -> (spec text, tensors by cnnc name)."""

from __future__ import annotations

import numpy as np
import onnx

from cnnc.errors import Diagnostic
from cnnc.onnx_import.convert import OnnxImportError, checkpoint_tensors, convert
from cnnc.onnx_import.patterns import rewrite
from cnnc.onnx_import.reader import read
from cnnc.onnx_import.writer import spec_name, spec_text


def import_model(model: onnx.ModelProto, source: str = "<onnx>",
                 name: str | None = None) -> tuple[str, dict[str, np.ndarray]]:
    """The spec YAML and the checkpoint tensors of `model`; OnnxImportError (a CnncError) lists
    every node cnnc has no layer for, and nothing is returned then."""
    try:
        g = read(model)
    except ValueError as e:
        raise OnnxImportError([Diagnostic("import", f"{source}: {e}")]) from None
    rewrite(g)
    layers, outputs = convert(g)
    text = spec_text(spec_name(name or model.graph.name), g.input_shape, layers, outputs,
                     source)
    return text, checkpoint_tensors(layers)
