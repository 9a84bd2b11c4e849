"""A compiled network as an ONNX model: one walk over the graph in topological order, each layer
adding its nodes through its rule's `onnx` emitter (cnnc/ops/onnx_forms.py).

Names: the input is `input` with a dynamic batch axis `N`; a layer's output value and its main
node take the layer's id (`stage2.0.conv1`), an extra output `<id>.<name>`; the initializers are
cnnc's parameter names (`conv1.weight`, `bn1.running_mean`), so a checkpoint maps one to one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from cnnc.compiled import CompiledData
from cnnc.errors import CnncError, Diagnostic
from cnnc.export.opsets import DEFAULT_OPSET, OPSETS
from cnnc.ir import keys
from cnnc.ops import RULES

# the metadata key that names the outputs of training-only heads (comma-separated), when kept
TRAINING_HEADS = "cnnc.training_only_outputs"


class ExportError(CnncError):
    """A network, or one layer's variant, that has no exact ONNX form."""


def export_error(message: str, hint: str | None = None) -> ExportError:
    return ExportError([Diagnostic("export", message, hint=hint)])


class _Layer:
    """The Emitter of one layer (the protocol in cnnc/ops/onnx_forms.py)."""

    def __init__(self, graph: _Graph, node_id: str, inputs: tuple[str, ...],
                 lowered: dict[str, Any], reads: set[str]) -> None:
        self.graph, self.id, self.inputs, self.lowered = graph, node_id, inputs, lowered
        self.output, self.opset, self._reads, self._count = node_id, graph.opset, reads, 0

    def _fresh(self) -> str:
        self._count += 1
        return f"{self.id}/{self._count}"

    def node(self, op_type: str, inputs: Sequence[str], out: str | None = None,
             extra_outputs: Sequence[str] = (), **attrs: Any) -> str:
        out = out or self._fresh()
        name = self.id if out == self.output else out  # helpers: `<id>/<n>`
        self.graph.nodes.append(helper.make_node(op_type, list(inputs), [out, *extra_outputs],
                                                 name=name, **attrs))
        return out

    def ints(self, values: Sequence[int]) -> str:
        return self.graph.constant(np.asarray(values, dtype=np.int64), self._fresh())

    def floats(self, values: Any, shape: Sequence[int]) -> str:
        array = np.asarray(values, dtype=np.float32).reshape(tuple(shape))
        return self.graph.constant(array, self._fresh())

    def param(self, name: str) -> str | None:
        full = f"{self.id}.{name}"
        return full if full in self.graph.weights else None

    def param_shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.graph.weights[f"{self.id}.{name}"].shape)

    def extra(self, name: str) -> str | None:
        full = f"{self.id}.{name}"
        return full if full in self._reads else None

    def refuse(self, variant: str) -> NoReturn:
        op = self.graph.compiled.node(self.id)[keys.LAYER].op
        raise export_error(f"layer '{self.id}' ({op}): {variant} has no exact ONNX form at "
                           f"opset {self.opset}; nothing was written")


class _Graph:
    def __init__(self, compiled: CompiledData, weights: Mapping[str, np.ndarray],
                 opset: int) -> None:
        self.compiled, self.weights, self.opset = compiled, weights, opset
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []

    def constant(self, array: np.ndarray, name: str) -> str:
        self.constants.append(numpy_helper.from_array(array, f"{name}:const"))
        return f"{name}:const"


def _inputs(c: CompiledData, node_id: str) -> tuple[str, ...]:
    """The value names a node reads, in port order (`<id>.<name>` for an extra output)."""
    preds = c.graph.pred[node_id]
    count = sum(len(e[keys.PORTS]) for e in preds.values())
    names = [""] * count
    for src, edge in preds.items():
        for port, read in zip(edge[keys.PORTS], edge[keys.READS]):
            names[port] = src if read is None else f"{src}.{read}"
    return tuple(names)


def to_onnx(compiled: CompiledData, weights: Mapping[str, Any], opset: int = DEFAULT_OPSET,
            folded: Mapping[str, str] | None = None,
            training_heads: bool = False) -> onnx.ModelProto:
    """The ONNX model of `compiled` with these parameter and state tensors (cnnc's names).

    `folded` maps each BatchNorm folded into its producer (the weights then hold the folded
    conv tensors) to that producer: the BatchNorm adds no node. `training_heads` keeps the
    training-only layers (auxiliary heads) as extra outputs, named in the model's metadata
    under TRAINING_HEADS so that an import marks them again. Raises ExportError, and builds
    nothing, where a layer has no exact ONNX form at `opset` (one of OPSETS)."""
    if opset not in OPSETS:
        raise export_error(f"opset {opset} is not supported",
                           hint=f"use an opset from {OPSETS.start} to {OPSETS.stop - 1}")
    folded = folded or {}
    c = compiled
    arrays = {name: np.asarray(value, dtype=np.float32) for name, value in weights.items()}
    g = _Graph(c, arrays, opset)
    reads = {name for node in c.layers for name in _inputs(c, node)} | set(c.outputs)
    alias: dict[str, str] = {}
    for node_id in c.layers:
        d = c.node(node_id)
        layer = d[keys.LAYER]
        if d.get(keys.TRAINING_ONLY) and not training_heads:
            continue  # an auxiliary head: not part of the inference graph
        inputs = tuple(alias.get(x, x) for x in _inputs(c, node_id))
        if node_id in folded:
            alias[node_id] = inputs[0]
            continue
        rule = RULES[layer.op]
        xs = tuple(_value_shape(c, x) for x in _inputs(c, node_id))
        y = d[keys.SHAPE]
        emitter = _Layer(g, node_id, inputs, rule.lower(layer.attrs, xs, y), reads)
        if rule.onnx is None:
            emitter.refuse(f"op `{layer.op}`")
        rule.onnx(layer.attrs, xs, y, emitter)
    outputs = []
    heads = [o for o in c.outputs if c.node(o).get(keys.TRAINING_ONLY)]
    for name in (o for o in c.outputs if training_heads or o not in heads):
        if name in alias:  # a folded BatchNorm is a network output: its producer's value
            g.nodes.append(helper.make_node("Identity", [alias[name]], [name], name=name))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                     ["N", *c.node(name)[keys.SHAPE]]))
    used = {i for n in g.nodes for i in n.input}
    inits = [numpy_helper.from_array(a, name) for name, a in arrays.items() if name in used]
    graph = helper.make_graph(
        g.nodes, c.name, [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                        ["N", *c.input_shape])],
        outputs, initializer=inits + g.constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="cnnc", doc_string=c.doc or "")
    if training_heads and heads:
        helper.set_model_props(model, {TRAINING_HEADS: ",".join(heads)})
    # the oldest IR version that carries this opset, so that older runtimes read the model
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    return model


def _value_shape(c: CompiledData, name: str) -> tuple[int, ...]:
    """The IR shape of a value: a node's output, or an extra output of the same shape."""
    if name in c.graph:
        return c.node(name)[keys.SHAPE]
    node, _, extra = name.rpartition(".")
    return c.node(node)[keys.OUTPUT_SHAPES][extra]
