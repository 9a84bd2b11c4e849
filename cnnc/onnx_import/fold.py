"""Values computed before the forms are matched, with onnx's reference evaluator at the model's
opset:

- nodes that compute from constants only (a parameter reshaped to broadcast, torch's pads of a
  Pad): their readers get constants;
- the target of a Reshape computed from shapes, where ONNX's shape inference leaves its output
  open (torch's x.view(n, g, c // g, h, w) with a symbolic batch: its data propagation does not
  divide): computed with two batch sizes; where only the batch differs, the Reshape gets the
  target with the batch copied (0) and its output shape;
- the pads of a Pad computed from shapes (TensorFlow's SAME padding as torch models write it,
  from the size of the map coming in): where they do not depend on the batch, constants, and
  ONNX's shape inference runs again past them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import helper
from onnx.reference import ReferenceEvaluator

from cnnc.onnx_import.reader import Graph, Node, infer_shapes

BATCHES = (2, 3)  # the batch sizes shapes are computed at: two, to tell the batch from the rest


def _evaluated(n: Node, g: Graph, inputs: dict[str, Any]) -> list[np.ndarray] | None:
    """`n`'s outputs on `inputs`; None where the evaluator cannot run it."""
    given = [v for v in n.inputs if v]
    graph = helper.make_graph([helper.make_node(n.op_type, n.inputs, n.outputs, **n.attrs)],
                              "fold", [helper.make_empty_tensor_value_info(v) for v in given],
                              [helper.make_empty_tensor_value_info(v) for v in n.outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", g.opset)])
    try:
        return [np.asarray(v) for v in ReferenceEvaluator(model).run(None, inputs)]
    except Exception:  # noqa: BLE001 (the evaluator raises many kinds; the mapping reports)
        return None


def constants(g: Graph) -> None:
    """Nodes on constants only computed; a value computed from literals only is a literal."""
    kept = []
    for n in g.nodes:
        given = [v for v in n.inputs if v]
        values = _evaluated(n, g, {v: g.consts[v] for v in given}) \
            if given and all(v in g.consts for v in given) else None
        if values is None:
            kept.append(n)
            continue
        for v, value in zip(n.outputs, values):
            g.consts[v] = value
            if all(g.is_literal(u) for u in given):
                g.literals.add(v)
    g.nodes = kept


def shape_targets(g: Graph) -> None:
    at: dict[str, list[np.ndarray]] = {}  # a value computed from shapes, at each batch size
    if any(n.op_type == "Pad" and n.outputs[0] not in g.shapes for n in g.nodes):
        infer_shapes(g)  # pads that constants() has just computed
    derived = _from_shapes(g)
    while _computed(g, at, derived):  # a Pad got its pads: shapes after it can be inferred now
        infer_shapes(g)


def _from_shapes(g: Graph) -> set[str]:
    """The values computed from shapes and constants only (what a Shape node starts)."""
    derived: set[str] = set()
    for n in g.nodes:
        computed = [v for v in n.inputs if v and v not in g.consts]
        if n.op_type == "Shape" or (computed and all(v in derived for v in computed)):
            derived.update(n.outputs)
    return derived


def _computed(g: Graph, at: dict[str, list[np.ndarray]], derived: set[str]) -> bool:
    """One pass over the nodes, extending `at`; whether a Pad got constant pads. `derived`:
    the values computed from shapes, whose own shapes say nothing of a map."""
    padded = False
    for i, n in enumerate(g.nodes):
        data, target = (n.inputs + ("", ""))[:2]
        if n.op_type == "Reshape" and target in at and n.outputs[0] not in g.shapes:
            dims = _target(g, data, at[target])
            if dims is not None:
                g.consts[f"{n.name}:target"] = np.asarray([0, *dims], np.int64)
                g.nodes[i] = Node(n.name, n.op_type, (data, f"{n.name}:target"), n.outputs,
                                  n.attrs)
                g.shapes[n.outputs[0]] = dims
        elif n.op_type == "Pad" and target in at and n.outputs[0] not in g.shapes:
            pads = at[target]
            if all(np.array_equal(pads[0], p) for p in pads[1:]):  # the batch does not matter
                g.consts[f"{n.name}:pads"] = pads[0].astype(np.int64)
                g.nodes[i] = Node(n.name, n.op_type, (data, f"{n.name}:pads", *n.inputs[2:]),
                                  n.outputs, n.attrs)
                padded = True
        elif n.outputs[0] in at:
            continue  # computed in an earlier pass
        elif n.op_type == "Shape" and n.inputs[0] in g.shapes and n.inputs[0] not in derived:
            start, end = n.attrs.get("start", 0), n.attrs.get("end")
            at[n.outputs[0]] = [np.asarray([b, *g.shapes[n.inputs[0]]], np.int64)[start:end]
                                for b in BATCHES]
        elif any(v in at for v in n.inputs) and all(not v or v in at or v in g.consts
                                                    for v in n.inputs):
            runs = [_evaluated(n, g, {v: at[v][k] if v in at else g.consts[v]
                                      for v in n.inputs if v}) for k in range(len(BATCHES))]
            if all(r is not None for r in runs):
                at[n.outputs[0]] = [r[0] for r in runs]
    return padded


def _target(g: Graph, data: str, targets: list[np.ndarray]) -> tuple[int, ...] | None:
    """The sizes after the batch of a Reshape of `data` to `targets` (one per batch size)."""
    first = [t.tolist() for t in targets]
    if any(len(t) < 2 or t[0] != b or t[1:] != first[0][1:] for t, b in zip(first, BATCHES)):
        return None
    dims, size = first[0][1:], math.prod(g.shapes.get(data, (0,)))
    known = math.prod(d for d in dims if d != -1)
    if dims.count(-1) == 1 and known and size % known == 0:
        dims[dims.index(-1)] = size // known
    return tuple(dims) if all(d > 0 for d in dims) and math.prod(dims) == size else None
