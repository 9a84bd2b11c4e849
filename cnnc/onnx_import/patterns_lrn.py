"""Local response normalisation written as its parts, x / (k + alpha * mean)^beta with the mean
of the squares over a zero-padded window of `size` channels (PyTorch's window, c - size//2 ..
c + (size-1)//2), rewritten as one LRN node (LRN below, which ops_norms.py maps):

- cnnc's export of an even size (ONNX's LRN centres an even window differently): the squares
  viewed as (N, 1, C, rest), AveragePool with the padding, viewed back;
- torch.onnx.export of nn.LocalResponseNorm on a feature map: the squares viewed as
  (N, 1, C, H, W), a Pad (its pads computed from constants), AveragePool, an If that squeezes
  axis 1 (its condition computed from shapes), viewed back.
"""

from __future__ import annotations

import numpy as np
from onnx import helper, numpy_helper

from cnnc.onnx_import.match import Bound, Form, fuse, match, named
from cnnc.onnx_import.reader import Graph, Node, producers

LRN = "LocalResponseNorm"  # an op type ops.MAPPINGS knows beside ONNX's
X = "x"


def _normalised(mean: Form) -> Form:
    """x / (mean * alpha + k)^beta."""
    return Form("Div", (X, Form("Pow", (Form("Add", (Form("Mul", (mean, "alpha")), "k")),
                                        "beta"))))


def _window(pool: Node, size: int, pads: list[int]) -> bool:
    """AveragePool `pool` averages `size` channels (a kernel of 1 on the other axes), stride 1,
    with `pads` (zeros counted)."""
    rank = len(pool.attrs.get("kernel_shape", []))
    plain = {"strides": [1] * rank, "dilations": [1] * rank, "ceil_mode": 0,
             "pads": [0] * 2 * rank, "count_include_pad": 0}
    want = {"kernel_shape": [size] + [1] * (rank - 1), "pads": pads, "count_include_pad": 1}
    got = plain | pool.attrs
    if not any(pads):  # nothing padded: whether padding counts does not matter
        got["count_include_pad"] = 1
    return rank > 0 and got == plain | want


def _lrn_node(g: Graph, last: Node, b: Bound, size: int) -> Node | None:
    numbers = [g.const(b[k]) for k in ("alpha", "k", "beta")]
    if any(c is None or c.size != 1 for c in numbers) or \
            g.shapes.get(b["back"].outputs[0]) != g.shapes.get(b[X]):
        return None
    alpha, k, beta = (float(c.reshape(())) for c in numbers)
    return Node(named(last, LRN), LRN, (b[X],), last.outputs,
                {"size": size, "alpha": alpha, "beta": beta, "bias": k})


_CNNC = _normalised(Form("Reshape", (Form("AveragePool", (
    Form("Reshape", (Form("Mul", (X, X)), "planes")),), bind="pool"), None), bind="back"))


def _cnnc(g: Graph, last: Node, b: Bound) -> Node | None:
    x, planes = g.shapes.get(b[X]), g.const(b["planes"])
    size = b["pool"].attrs.get("kernel_shape", [0])[0]
    if x is None or len(x) < 2 or planes is None or planes.tolist() != [0, 1, x[0], -1] or \
            not _window(b["pool"], size, [size // 2, 0, (size - 1) // 2, 0]):
        return None
    return _lrn_node(g, last, b, size)


_TORCH = _normalised(Form("Reshape", (Form("If", (None,), bind="if"), None), bind="back"))


def _squeezed(n: Node) -> str | None:
    """The value torch's `squeeze(1)` reads, written as an If: Squeeze(v, [1]) when axis 1 is 1,
    v as it is when not. Here the view put a 1 there, so the If squeezes."""
    then, other = n.attrs.get("then_branch"), n.attrs.get("else_branch")
    if then is None or other is None or [m.op_type for m in other.node] != ["Identity"]:
        return None
    v = other.node[0].input[0]
    if [m.op_type for m in then.node] != ["Constant", "Squeeze"]:
        return None
    axes, squeeze = then.node
    one = numpy_helper.to_array(helper.get_attribute_value(axes.attribute[0])).tolist()
    return v if list(squeeze.input) == [v, axes.output[0]] and one == [1] else None


def _made_by(producer: dict[str, Node], value: str | None, op_type: str) -> Node | None:
    n = producer.get(value or "")
    return n if n is not None and n.op_type == op_type else None


def _torch(g: Graph, users: dict[str, int], producer: dict[str, Node],
           div: Node) -> tuple[Node, list[Node]] | None:
    """The LRN node torch's form ending at `div` stands for, and the nodes it replaces."""
    found = match(g, div, _TORCH)
    if found is None:
        return None
    nodes, b = found
    x = g.shapes.get(b[X])
    pool = _made_by(producer, _squeezed(b["if"]), "AveragePool")
    pad = pool and _made_by(producer, pool.inputs[0], "Pad")
    view = pad and _made_by(producer, pad.inputs[0], "Reshape")
    squares = view and _made_by(producer, view.inputs[0], "Mul")
    # the pooled value is read by the If's branch and by the Shape of its condition alone
    if x is None or len(x) != 3 or squares is None or list(squares.inputs) != [b[X], b[X]] or \
            any(users.get(n.outputs[0]) != 1 for n in (squares, view, pad, pool)):
        return None
    pads, size = g.const(pad.inputs[1]), pool.attrs.get("kernel_shape", [0])[0]
    value = g.const(pad.inputs[2]) if len(pad.inputs) > 2 and pad.inputs[2] else None
    # the squares as (N, 1, C, H, W), whether torch wrote the view's sizes or computed them
    if g.shapes.get(view.outputs[0]) != (1, *x) or pads is None or \
            pads.tolist() != [0, 0, size // 2, 0, 0, 0, 0, (size - 1) // 2, 0, 0] or \
            pad.attrs.get("mode", b"constant") != b"constant" or \
            (value is not None and np.any(value != 0)) or not _window(pool, size, [0] * 6):
        return None
    new = _lrn_node(g, div, b, size)
    return None if new is None else (new, [*nodes[:-1], squares, view, pad, pool])


def rewrite(g: Graph) -> None:
    fuse(g, (_CNNC,), _cnnc)
    users: dict[str, int] = {}
    for n in g.nodes:
        for v in n.inputs:
            users[v] = users.get(v, 0) + 1
    producer = producers(g.nodes)
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for n in g.nodes:
        found = _torch(g, users, producer, n) if n.op_type == "Div" else None
        if found is not None:
            rewritten[n.name] = found[0]
            gone.update(m.name for m in found[1])
    g.replace(gone, rewritten)
