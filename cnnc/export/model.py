"""`to_onnx`: a compiled network with its weights (a checkpoint's, or a fresh initialisation)
as an ONNX model, BatchNorm kept or folded into the convolution before it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import onnx

from cnnc.compiled import CompiledData
from cnnc.export.onnx import export_error
from cnnc.export.onnx import to_onnx as graph_to_onnx
from cnnc.export.opsets import DEFAULT_OPSET


def to_onnx(compiled: CompiledData, weights: Mapping[str, Any] | None = None,
            opset: int = DEFAULT_OPSET, fold_bn: bool = False, seed: int = 0) -> onnx.ModelProto:
    """The ONNX model of `compiled` (cnnc.compile_file's result).

    `weights`: parameter and state tensors by cnnc name (`checkpoint.load(path)[0]`); None
    initialises them as `cnnc.build_model(compiled, seed=seed)` does. `fold_bn` folds each
    BatchNorm that the runtime folds in inference (a conv's only reader) into that conv, with
    the runtime's own folding (cnnc_runtime/fold.py). Raises ExportError (a CnncError) where a
    layer has no exact ONNX form at `opset`, or where `weights` do not fit the network.
    """
    import numpy as np

    from cnnc.lower import lower
    from cnnc_runtime.fold import fold
    from cnnc_runtime.model import Model

    # cnnc.build_model's model, built here: cnnc.build imports the compiler, which offers
    # Compiled.to_onnx, so importing it would close a circle
    model = Model(lower(compiled), dtype="float32", seed=seed)
    if weights is not None:
        for name, value in model.tensors().items():
            if name not in weights:
                raise export_error(f"the weights do not fit '{compiled.name}': no '{name}'")
            if tuple(weights[name].shape) != tuple(value.shape):
                raise export_error(
                    f"the weights do not fit '{compiled.name}': '{name}' is "
                    f"{tuple(weights[name].shape)} there, the spec makes it {tuple(value.shape)}",
                    hint="compile with the --input the weights were trained at")
        model.load({name: weights[name] for name in model.tensors()})
    tensors = dict(model.tensors())
    folded: dict[str, str] = {}
    if fold_bn:
        into = fold(np, model.plan.folds, tensors)
        for f in model.plan.folds:
            conv = f.weight.rpartition(".")[0]
            folded[f.running_mean.rpartition(".")[0]] = conv
            tensors[f"{conv}.weight"] = into[f.into_weight]
            tensors[f"{conv}.bias"] = into[f.into_bias]
    return graph_to_onnx(compiled, tensors, opset, folded)
