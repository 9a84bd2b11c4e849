"""Rewrites of the node list before mapping: the multi-node forms cnnc's export and
torch.onnx.export write become one node that ops.py maps to one layer.

- shape arithmetic (Shape, and what computes only from shapes and constants: the sizes of a
  Resize, torch's `x.view(x.size(0), -1)`) is dropped; the consumer reads the inferred shape;
- x * Sigmoid(x) is one `Silu` node (cnnc's export of `silu`, torch's SiLU);
- cnnc's adaptive average pooling with unequal bins, per axis an averaging MatMul (with a
  Transpose on either side for an axis that is not the last), is one `AdaptiveAvgPool` node.
"""

from __future__ import annotations

import numpy as np

from cnnc.onnx_import import patterns_norm, patterns_slices, patterns_windows
from cnnc.onnx_import.reader import Graph, Node, consumers
from cnnc.ops.onnx_windows import _bins

SILU, ADAPTIVE = "Silu", "AdaptiveAvgPool"  # op types ops.MAPPINGS knows beside ONNX's


def drop_shape_arithmetic(g: Graph) -> None:
    """Remove the nodes that compute from shapes and constants only."""
    shape_values: set[str] = set()
    kept = []
    for n in g.nodes:
        computed = [v for v in n.inputs if v and v not in g.consts]
        if n.op_type == "Shape" or (computed and all(v in shape_values for v in computed)) \
                or (not computed and n.inputs):
            shape_values.update(n.outputs)
        else:
            kept.append(n)
    g.nodes = kept


def fuse_silu(g: Graph) -> None:
    users = consumers(g.nodes)
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for n in g.nodes:
        if n.op_type != "Sigmoid" or len(users[n.outputs[0]]) != 1:
            continue
        mul = users[n.outputs[0]][0]
        if mul.op_type == "Mul" and sorted(mul.inputs) == sorted([n.inputs[0], n.outputs[0]]):
            gone.add(n.name)
            rewritten[mul.name] = Node(mul.name, SILU, n.inputs[:1], mul.outputs, {})
    g.replace(gone, rewritten)


def _averaging(g: Graph, n: Node) -> bool:
    """A MatMul by the matrix that averages PyTorch's adaptive bins along the last axis."""
    m = g.const(n.inputs[1]) if n.op_type == "MatMul" else None
    if m is None or m.ndim != 2 or len(g.shapes.get(n.inputs[0], ())) < 2:
        return False
    rows, cols = m.shape
    want = np.zeros((rows, cols), dtype=np.float32)
    for j, (lo, hi) in enumerate(_bins(rows, cols)):
        want[lo:hi, j] = 1.0 / (hi - lo)
    return bool(np.allclose(m, want))


def fuse_adaptive_avgpool(g: Graph) -> None:
    users = consumers(g.nodes)
    by_output = {n.outputs[0]: n for n in g.nodes}
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for n in g.nodes:
        if not _averaging(g, n) or n.name in gone:
            continue
        # the chain's start: walk back over averaging MatMuls and their Transposes
        chain = [n]
        while True:
            before = by_output.get(chain[0].inputs[0])
            if before is None or len(users[before.outputs[0]]) != 1 or not (
                    before.op_type == "Transpose" or _averaging(g, before)):
                break
            chain.insert(0, before)
        while True:
            after = users.get(chain[-1].outputs[0], [])
            if len(after) != 1 or not (after[0].op_type == "Transpose" or _averaging(g, after[0])):
                break
            chain.append(after[0])
        if any(c.op_type == "Transpose" for c in (chain[0], chain[-1])) and \
                sum(c.op_type == "Transpose" for c in chain) % 2:
            continue  # a Transpose that is not one of a pair around a MatMul
        gone.update(c.name for c in chain[:-1])
        last = chain[-1]
        rewritten[last.name] = Node(last.name, ADAPTIVE, chain[0].inputs[:1], last.outputs, {})
    g.replace(gone, rewritten)


def rewrite(g: Graph) -> None:
    patterns_norm.rewrite(g)  # first: it computes values from constants the next one drops
    drop_shape_arithmetic(g)
    fuse_silu(g)
    fuse_adaptive_avgpool(g)
    patterns_windows.rewrite(g)
    patterns_slices.rewrite(g)
