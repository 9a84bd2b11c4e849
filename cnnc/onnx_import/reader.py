"""An ONNX graph as plain records: nodes with their attributes, every constant input resolved
to an array (initializers and Constant nodes), and each value's shape from shape inference."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


@dataclass(frozen=True)
class Node:
    name: str
    op_type: str
    inputs: tuple[str, ...]    # value names; "" for an optional input left out
    outputs: tuple[str, ...]
    attrs: dict[str, Any]


@dataclass
class Graph:
    input: str                       # the one graph input's value name
    input_shape: tuple[int, ...]     # batch axis excluded
    outputs: tuple[str, ...]
    nodes: list[Node]
    consts: dict[str, np.ndarray]    # value name -> array, for every constant value
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # batch excluded
    literals: set[str] = field(default_factory=set)  # the consts that Constant nodes give
    opset: int = 17                  # the default domain's opset the model was written for

    def const(self, name: str) -> np.ndarray | None:
        return self.consts.get(name)

    def replace(self, gone: set[str], rewritten: dict[str, Node]) -> None:
        """Drop the nodes named in `gone` and put each of `rewritten` (by name) in its node's
        place: what every rewrite of a form ends with."""
        self.nodes = [rewritten.get(n.name, n) for n in self.nodes if n.name not in gone]

    def is_literal(self, name: str) -> bool:
        """A constant written into the graph, not a parameter: a Constant node's value (torch's
        fixed ones and zeros), or one cnnc's export names `<id>/<n>:const`."""
        return name in self.literals or name.endswith(":const")


def consumers(nodes: list[Node]) -> dict[str, list[Node]]:
    """value name -> the nodes that read it, in node order."""
    out: dict[str, list[Node]] = defaultdict(list)
    for n in nodes:
        for v in n.inputs:
            out[v].append(n)
    return out


def producers(nodes: list[Node]) -> dict[str, Node]:
    """value name -> the node that makes it; an optional output left out ("") is not one."""
    return {v: n for n in nodes for v in n.outputs if v}


def _dims(value: onnx.ValueInfoProto) -> tuple[int | str, ...]:
    return tuple(d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim)


def _without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with its large initializers declared as inputs of their shape instead: shape
    inference serializes the whole model (seconds for VGG's 500 MB), and needs the values of
    only the small ones (shapes, axes)."""
    light = onnx.ModelProto()
    light.CopyFrom(model)
    declared = {v.name for v in light.graph.input}  # older models list initializers there
    weights = [t for t in light.graph.initializer if np.prod(t.dims) > 64]
    kept = [t for t in light.graph.initializer if np.prod(t.dims) <= 64]
    del light.graph.initializer[:]
    light.graph.initializer.extend(kept)
    light.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                             for t in weights if t.name not in declared)
    return light


def _shapes(values: list[onnx.ValueInfoProto]) -> dict[str, tuple[int, ...]]:
    """The fixed shapes among `values`, batch axis excluded."""
    shapes = {}
    for v in values:
        dims = _dims(v)
        if dims and all(isinstance(d, int) and d > 0 for d in dims[1:]):
            shapes[v.name] = tuple(int(d) for d in dims[1:])
    return shapes


def infer_shapes(g: Graph) -> None:
    """ONNX's shape inference again, on the graph as the rewrites left it (constants that were
    computed are constants now, so shapes it could not follow before may follow)."""
    inits, declared = [], []
    for name, a in g.consts.items():
        if a.size <= 64:
            inits.append(numpy_helper.from_array(np.asarray(a), name))
        else:
            declared.append(helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape)))
    x = helper.make_tensor_value_info(g.input, onnx.TensorProto.FLOAT, ["N", *g.input_shape])
    graph = helper.make_graph(
        [helper.make_node(n.op_type, n.inputs, n.outputs, name=n.name, **n.attrs)
         for n in g.nodes],
        "shapes", [x, *declared], [helper.make_empty_tensor_value_info(v) for v in g.outputs],
        initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", g.opset)])
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True).graph
    g.shapes |= _shapes([*inferred.value_info, *inferred.output])


def read(model: onnx.ModelProto) -> Graph:
    """The graph of `model`; ValueError with one line where it is not a one-input network."""
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    inferred = onnx.shape_inference.infer_shapes(_without_weights(model), data_prop=True).graph
    inputs = [v for v in g.input if v.name not in consts]
    if len(inputs) != 1:
        raise ValueError(f"the graph has {len(inputs)} inputs; cnnc networks have one")
    shape = _dims(inputs[0])
    if len(shape) < 2 or any(not isinstance(d, int) or d < 1 for d in shape[1:]):
        raise ValueError(f"input '{inputs[0].name}' has shape {list(shape)}: cnnc needs fixed "
                         "sizes after the batch axis")
    nodes, literals = [], set()
    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "Constant":  # `value`, or value_float(s) / value_int(s)
            (value,) = attrs.values()
            consts[n.output[0]] = numpy_helper.to_array(value) if "value" in attrs \
                else np.asarray(value)
            literals.add(n.output[0])
            continue
        if n.op_type == "Identity" and n.input[0] in consts:
            # torch.onnx.export shares equal initializers through Identity nodes
            consts[n.output[0]] = consts[n.input[0]]
            continue
        nodes.append(Node(n.name or n.output[0], n.op_type, tuple(n.input), tuple(n.output),
                          attrs))
    shapes = _shapes([*inferred.value_info, *inferred.output, inputs[0]])
    return Graph(inputs[0].name, tuple(int(d) for d in shape[1:]),
                 tuple(o.name for o in g.output), nodes, consts, shapes, literals,
                 next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 17))
