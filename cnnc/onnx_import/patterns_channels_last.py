"""Runs of channels-last layers between two Transposes rewritten channels-first, so that each
maps to a cnnc layer: ConvNeXt's x.permute(0, 2, 3, 1) -> LayerNorm(C) -> Linear -> GELU ->
Linear -> gamma * x -> permute(0, 3, 1, 2) becomes layernorm, 1x1 conv, gelu, 1x1 conv, scale.

Between a Transpose that moves the channels last and one that moves them back, each node reads
the value before it (and constants), and nothing else reads that value:
- LayerNormalization over the last axis: a layernorm over channels (LAYERNORM below);
- MatMul by a constant (C_in, C_out) matrix, and an Add of a (C_out,) constant after it: a Conv
  with a 1x1 kernel;
- Mul by a (C,) constant: a Mul by its (C, 1, ..., 1) form, which maps to scale;
- one-input elementwise ops (activations, inference Dropout): unchanged.
Any other node leaves the run as it is, to be reported node by node.
"""

from __future__ import annotations

from collections import defaultdict

from cnnc.onnx_import.match import named
from cnnc.onnx_import.reader import Graph, Node

LAYERNORM = "LayerNorm"  # an op type ops.MAPPINGS knows beside ONNX's: layernorm of channels
_ELEMENTWISE = {"Relu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "LeakyRelu", "Clip",
                "Gelu", "Dropout", "Identity"}


def _moves_channels_last(n: Node) -> bool:
    """A Transpose that moves the channels last and keeps the batch first (the spatial axes in
    any order: x.permute(0, 2, 3, 1), x.transpose(1, 3))."""
    perm = list(n.attrs.get("perm", [])) if n.op_type == "Transpose" else []
    return len(perm) > 2 and perm[0] == 0 and perm[-1] == 1


def _undoes(n: Node, first: Node) -> bool:
    """`n` is the Transpose that puts every axis back where it was before `first`."""
    perm, before = list(n.attrs.get("perm", [])) if n.op_type == "Transpose" else [], \
        list(first.attrs["perm"])
    return len(perm) == len(before) and [before[d] for d in perm] == list(range(len(perm)))


def _other(n: Node, v: str) -> str | None:
    """The input of a two-input node that is not `v`."""
    rest = [u for u in n.inputs if u != v]
    return rest[0] if len(n.inputs) == 2 and len(rest) == 1 else None


def _movable(g: Graph, n: Node, v: str, rank: int) -> bool:
    """`n` reads `v` (channels last, `rank` axes with the batch) as a layer cnnc can run on
    the channels-first value."""
    if n.op_type in _ELEMENTWISE:
        return n.inputs[0] == v and all(
            not u or (g.const(u) is not None and g.const(u).size <= 1) for u in n.inputs[1:])
    if n.op_type == "LayerNormalization":
        return n.inputs[0] == v and n.attrs.get("axis", -1) in (-1, rank - 1)
    if n.op_type == "MatMul":
        w = g.const(n.inputs[1]) if n.inputs[0] == v else None
        return w is not None and w.ndim == 2
    w = g.const(_other(n, v) or "")
    return n.op_type == "Mul" and w is not None and w.ndim == 1  # a scale per channel


def _run(g: Graph, first: Node, users: dict[str, list[Node]]) -> tuple[list[Node], Node] | None:
    """The nodes between `first` and the Transpose that ends its run, and that Transpose."""
    rank, v, run = len(first.attrs["perm"]), first.outputs[0], []
    while len(users[v]) == 1 and v not in g.outputs:
        n = users[v][0]
        if _undoes(n, first):
            return (run, n) if run else None
        after_matmul = run and run[-1].op_type == "MatMul"
        bias = after_matmul and _bias(g, n, v, g.const(run[-1].inputs[1]).shape[1])
        if any(users[u] for u in n.outputs[1:] if u) or not (bias or _movable(g, n, v, rank)):
            return None
        run.append(n)
        v = n.outputs[0]
    return None


def _bias(g: Graph, n: Node | None, v: str, out: int) -> str | None:
    """The (C_out,) constant that Add `n` adds to `v` (a linear layer's bias), if it is one."""
    b = g.const(_other(n, v) or "") if n is not None and n.op_type == "Add" else None
    return _other(n, v) if b is not None and b.shape == (out,) else None


def _channels_first(g: Graph, run: list[Node], start: str, x: str, y: str,
                    rank: int) -> list[Node]:
    """The run's nodes on the channels-first value: `start` the channels-last value the run
    read, `x` the channels-first one it reads now, `y` the run's output."""
    out: list[Node] = []
    i = 0
    while i < len(run):
        n, then = run[i], run[i + 1] if i + 1 < len(run) else None
        v = run[i - 1].outputs[0] if i else start  # what n read
        reads = out[-1].outputs[0] if out else x
        i += 1
        if n.op_type == "MatMul":
            w = g.const(n.inputs[1])  # (C_in, C_out)
            g.consts[f"{n.name}:weight"] = w.T.reshape(*w.T.shape, *[1] * (rank - 2))
            bias = _bias(g, then, n.outputs[0], w.shape[1])
            i += 1 if bias else 0
            kernel = {"kernel_shape": [1] * (rank - 2)}
            out.append(Node(named(n, "Conv"), "Conv",
                            (reads, f"{n.name}:weight", *([bias] if bias else [])),
                            then.outputs if bias else n.outputs, kernel))
        elif n.op_type == "Mul":
            g.consts[f"{n.name}:scale"] = g.const(_other(n, v)).reshape(-1, *[1] * (rank - 2))
            out.append(Node(n.name, "Mul", (reads, f"{n.name}:scale"), n.outputs, {}))
        elif n.op_type == "LayerNormalization":
            out.append(Node(named(n, LAYERNORM), LAYERNORM, (reads, *n.inputs[1:3]), n.outputs,
                            {"epsilon": n.attrs.get("epsilon", 1e-5)}))
        else:
            out.append(Node(n.name, n.op_type, (reads, *n.inputs[1:]), n.outputs, n.attrs))
    spatial = g.shapes[x][1:] if x in g.shapes else None
    for n in out[:-1]:  # the values inside the run now hold the channels first
        shape = g.shapes.pop(n.outputs[0], None)
        if shape is not None and spatial is not None:
            g.shapes[n.outputs[0]] = (shape[-1], *spatial)
    out[-1] = Node(out[-1].name, out[-1].op_type, out[-1].inputs, (y,), out[-1].attrs)
    return out


def rewrite(g: Graph) -> None:
    users: dict[str, list[Node]] = defaultdict(list)
    for n in g.nodes:
        for v in n.inputs:
            users[v].append(n)
    gone: set[str] = set()
    placed: dict[str, list[Node]] = {}  # the closing Transpose's name -> the nodes in its place
    for first in g.nodes:
        found = _run(g, first, users) if _moves_channels_last(first) else None
        if found is None:
            continue
        run, back = found
        gone.update(n.name for n in (first, *run))
        placed[back.name] = _channels_first(g, run, first.outputs[0], first.inputs[0],
                                            back.outputs[0], len(first.attrs["perm"]))
    g.nodes = [m for n in g.nodes if n.name not in gone for m in placed.get(n.name, [n])]
