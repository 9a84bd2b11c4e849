"""`import_model`: an onnx.ModelProto -> (spec text, tensors by cnnc name)."""

from __future__ import annotations

import numpy as np
import onnx

from cnnc.errors import Diagnostic
from cnnc.export.onnx import TRAINING_HEADS
from cnnc.onnx_import.convert import INPUT, Layer, OnnxImportError, checkpoint_tensors, convert
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
    heads = {p.value for p in model.metadata_props if p.key == TRAINING_HEADS}
    _mark_training_only(layers, outputs, g.outputs, {v for h in heads for v in h.split(",")})
    items, qualified = blocks(layers, outputs) if repeat else (layers, {})
    text = spec_text(spec_name(name or model.graph.name), g.input_shape, items, outputs,
                     source)
    tensors = checkpoint_tensors(layers)
    return text, {_renamed(k, qualified): v for k, v in tensors.items()}


def _mark_training_only(layers: list[Layer], outputs: list[str], values: tuple[str, ...],
                        heads: set[str]) -> None:
    """Mark `training_only` where a head starts: the layers that feed no inference output
    (what depends on a training-only layer is training-only too, docs/spec.md)."""
    if not heads:
        return
    needed = {o for o, v in zip(outputs, values) if v not in heads}
    # graph order: readers come after what they read; `p.indices` is an output of layer `p`
    for layer in reversed(layers):
        if layer.id in needed:
            needed.update(i.partition(".")[0] for i in layer.inputs)
    for layer in layers:
        if layer.id not in needed and all(i.partition(".")[0] in needed or i == INPUT
                                          for i in layer.inputs):
            layer.op["training_only"] = True


def _renamed(tensor: str, qualified: dict[str, str]) -> str:
    layer, _, name = tensor.rpartition(".")
    return f"{qualified.get(layer, layer)}.{name}"
