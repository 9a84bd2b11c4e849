"""The multi-node forms of cnnc's pointwise emitters (cnnc/ops/onnx_pointwise.py) and of
torch.onnx.export rewritten as one node each, which ops.py and ops_norms.py map to one layer:

- GELU, x/2 (1 + erf(x/sqrt 2)) or its tanh approximation, as cnnc's export and torch's write
  them -> `Gelu` (ONNX's own op from opset 20, with its `approximate`);
- layers between Transposes that move the channels last and back (cnnc's layernorm of a feature
  map; ConvNeXt's block) rewritten channels-first (patterns_channels_last.py);
- group normalisation as InstanceNormalization of the (N, groups, rest) view, reshaped back, then
  the scale and shift per channel (cnnc's and torch's form);
- LRN as its parts, cnnc's of an even size and torch's (patterns_lrn.py);
- stack: Unsqueezes on one axis concatenated along it.

Values computed from constants, and Reshape targets computed from shapes, are computed first
(fold.py), so that the forms and the mappings read them.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from cnnc.onnx_import import fold, patterns_channels_last, patterns_lrn
from cnnc.onnx_import.match import Bound, Build, Form, fuse, named
from cnnc.onnx_import.reader import Graph, Node

# op types ops.MAPPINGS knows beside ONNX's
GELU, GROUPNORM, STACK = "Gelu", "GroupNorm", "Stack"
X = "x"  # the form's input


_ERF = Form("Add", (Form("Erf", (Form("Div", (X, math.sqrt(2.0))),)), 1.0))
_CUBE = Form("Mul", (Form("Mul", (X, X)), X))
_TANH = Form("Add", (Form("Tanh", (Form("Mul", (Form("Add", (X, Form("Mul", (_CUBE, 0.044715)))),
                                                 math.sqrt(2 / math.pi))),)), 1.0))


def _gelu(phi: Form) -> tuple[Form, ...]:
    """x * phi / 2 as cnnc's export writes it, (x / 2) * phi, and as torch's, (x * phi) / 2."""
    return Form("Mul", (Form("Mul", (X, 0.5)), phi)), Form("Mul", (Form("Mul", (X, phi)), 0.5))


def _gelu_node(approximate: bytes) -> Build:
    """The builder of a Gelu node; `approximate` as onnx.helper reads ONNX's string attribute."""
    def build(g: Graph, last: Node, b: Bound) -> Node:
        return Node(named(last, GELU), GELU, (b[X],), last.outputs, {"approximate": approximate})
    return build


_GROUPED = Form("Reshape", (Form("InstanceNormalization", (
    Form("Reshape", (X, "groups")), "ones", "zeros"), bind="norm"), None), bind="back")
_GROUPNORM = (Form("Add", (Form("Mul", (_GROUPED, "weight")), "bias")), _GROUPED)


def _filled(g: Graph, value: str, fill: float, size: int) -> bool:
    c = g.const(value)
    return c is not None and c.size == size and bool(np.all(c == fill))


def _groupnorm(g: Graph, last: Node, b: Bound) -> Node | None:
    x, view = g.shapes.get(b[X]), g.const(b["groups"])
    if x is None or view is None or g.shapes.get(b["back"].outputs[0]) != x:
        return None
    view = view.tolist() if view.ndim == 1 else []
    if len(view) != 3 or view[0] != 0 or view[2] != -1 or view[1] < 1 or x[0] % view[1]:
        return None
    groups = int(view[1])
    if not (_filled(g, b["ones"], 1.0, groups) and _filled(g, b["zeros"], 0.0, groups)):
        return None
    affine = tuple(b[k] for k in ("weight", "bias") if k in b)
    if any(g.const(v) is None for v in affine):
        return None  # a product with and a sum of computed tensors: mul and add layers
    return Node(named(last, GROUPNORM), GROUPNORM, (b[X], *affine), last.outputs,
                {"groups": groups, "epsilon": b["norm"].attrs.get("epsilon", 1e-5)})


def _unsqueezed_on(g: Graph, n: Node | None, axis: int, rank: int) -> bool:
    if n is None or n.op_type != "Unsqueeze":
        return False
    given = g.const(n.inputs[1]) if len(n.inputs) > 1 and n.inputs[1] else None
    axes = given.tolist() if given is not None else n.attrs.get("axes", [])
    return [a % rank for a in axes] == [axis]


def fuse_stack(g: Graph) -> None:
    """Concat of Unsqueezes on the axis it concatenates, each read by it alone: one Stack."""
    producer = {n.outputs[0]: n for n in g.nodes}
    reads = Counter(v for n in g.nodes for v in n.inputs) + Counter(g.outputs)
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for n in g.nodes:
        if n.op_type != "Concat" or n.outputs[0] not in g.shapes:
            continue
        rank = len(g.shapes[n.outputs[0]]) + 1
        axis = n.attrs["axis"] % rank
        parts = [producer.get(v) for v in n.inputs]
        if all(reads[v] == 1 and _unsqueezed_on(g, p, axis, rank)
               for v, p in zip(n.inputs, parts)):
            gone.update(p.name for p in parts)
            rewritten[n.name] = Node(named(n, STACK), STACK, tuple(p.inputs[0] for p in parts),
                                     n.outputs, {"axis": axis})
    g.replace(gone, rewritten)


def rewrite(g: Graph) -> None:
    fold.constants(g)
    fold.shape_targets(g)
    fuse(g, _gelu(_ERF), _gelu_node(b"none"))
    fuse(g, _gelu(_TANH), _gelu_node(b"tanh"))
    patterns_channels_last.rewrite(g)  # after GELU: a run's nodes are each one layer
    fuse(g, _GROUPNORM, _groupnorm)
    patterns_lrn.rewrite(g)
    fuse_stack(g)
