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
            opset: int = DEFAULT_OPSET, fold_bn: bool = False, seed: int = 0,
            training_heads: bool = False) -> onnx.ModelProto:
    """The ONNX model of `compiled` (cnnc.compile_file's result).

    `weights`: parameter and state tensors by cnnc name (`checkpoint.load(path)[0]`); None
    initialises them as `cnnc.build_model(compiled, seed=seed)` does. `fold_bn` folds each
    BatchNorm that the runtime folds in inference (a conv's only reader) into that conv, with
    the runtime's own folding (cnnc_runtime/fold.py). `training_heads` keeps the training-only
    layers (GoogLeNet's auxiliary classifiers) as extra outputs; an import marks them again. Raises ExportError (a CnncError) where a
    layer has no exact ONNX form at `opset`, or where `weights` do not fit the network.
    """
    import numpy as np

    from cnnc.lower import lower
    from cnnc_runtime.fold import fold
    from cnnc_runtime.model import Model

    plan = lower(compiled)
    if weights is None:
        # cnnc.build_model's model, built here: cnnc.build imports the compiler, which offers
        # Compiled.to_onnx, so importing it would close a circle
        tensors = dict(Model(plan, dtype="float32", seed=seed).tensors())
    else:  # checked against the plan's records: a fresh model's draws would be thrown away
        tensors = {}
        for t in (*plan.params, *plan.state):
            if t.name not in weights:
                raise export_error(f"the weights do not fit '{compiled.name}': no '{t.name}'")
            if tuple(weights[t.name].shape) != tuple(t.shape):
                raise export_error(
                    f"the weights do not fit '{compiled.name}': '{t.name}' is "
                    f"{tuple(weights[t.name].shape)} there, the spec makes it {tuple(t.shape)}",
                    hint="compile with the --input the weights were trained at")
            tensors[t.name] = np.asarray(weights[t.name], dtype=np.float32)
    folded: dict[str, str] = {}
    if fold_bn:
        into = fold(np, plan.folds, tensors)
        for f in plan.folds:
            conv = f.weight.rpartition(".")[0]
            folded[f.running_mean.rpartition(".")[0]] = conv
            tensors[f"{conv}.weight"] = into[f.into_weight]
            tensors[f"{conv}.bias"] = into[f.into_bias]
    return graph_to_onnx(compiled, tensors, opset, folded, training_heads)
