"""Rewrites (patterns.rewrite) of max pooling's indices and of max unpooling into one node each.

cnnc's indices count within each (n, c) plane of the pooling's input (PyTorch's convention),
ONNX's MaxPool and MaxUnpool count over the whole tensor. The forms:

- a MaxPool's indices made plane-relative, by cnnc's export (`Mod` by the input plane) or by
  torch.onnx.export's max_pool2d_with_indices (`Sub` of a 1x1 MaxPool's indices at each plane's
  origin), become one POOL_INDICES node whose second output is cnnc's `<id>.indices`;
- cnnc's MaxUnpool (the planes' offsets added, computed from shapes and so already dropped; in
  ceil mode the indices moved into a larger plane by Div/Mod/Mul/Add and the output sliced back;
  a Reshape that restores the shape) becomes one UNPOOL node reading (values, plane indices,
  the pooling's input), the last for its size;
- ONNX's own pair, a MaxPool whose whole-tensor indices go straight into a MaxUnpool to planes
  of the pooling's input size, is the same pair of nodes.
"""

from __future__ import annotations

import math

import numpy as np

from cnnc.onnx_import.reader import Graph, Node, consumers, producers

POOL_INDICES, UNPOOL = "MaxPoolPlaneIndices", "MaxUnpoolPlanes"  # op types beside ONNX's

_INTEGER = {"Div": np.floor_divide, "Mod": np.mod, "Mul": np.multiply, "Add": np.add}


def _plane(g: Graph, value: str) -> int:
    return math.prod(g.shapes[value][1:])


def _is_const(g: Graph, value: str, want: list[int]) -> bool:
    array = g.const(value)
    return array is not None and array.size == len(want) and array.ravel().tolist() == want


def _plane_origin(g: Graph, n: Node, by_output: dict[str, Node]) -> Node | None:
    """torch's max_pool2d_with_indices: the Slice of a 1x1 MaxPool's indices that gives each
    plane's first index, when `n` subtracts it."""
    sliced = by_output.get(n.inputs[1]) if n.op_type == "Sub" else None
    if sliced is None or sliced.op_type != "Slice":
        return None
    unit = by_output.get(sliced.inputs[0])
    rank = len(g.shapes[n.inputs[0]])  # spatial axes + 1
    if unit is None or unit.op_type != "MaxPool" or sliced.inputs[0] != unit.outputs[1] or \
            set(unit.attrs.get("kernel_shape", [])) != {1} or \
            set(unit.attrs.get("strides", [1])) != {1} or any(unit.attrs.get("pads", [0])):
        return None
    spatial = list(range(2, rank + 1))
    if not (_is_const(g, sliced.inputs[1], [0] * (rank - 1))
            and _is_const(g, sliced.inputs[2], [1] * (rank - 1))
            and _is_const(g, sliced.inputs[3], spatial)):
        return None
    return unit


def fuse_pool_indices(g: Graph) -> None:
    users = consumers(g.nodes)
    by_output = producers(g.nodes)
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for n in g.nodes:
        if n.op_type != "MaxPool" or len(n.outputs) < 2 or len(users[n.outputs[1]]) != 1 or \
                n.attrs.get("storage_order", 0):  # column-major indices
            continue
        (after,) = users[n.outputs[1]]
        plane_wise = None
        if after.op_type == "Mod" and after.inputs[0] == n.outputs[1] and \
                _is_const(g, after.inputs[1], [_plane(g, n.inputs[0])]):
            plane_wise = [after]
        elif after.op_type == "Sub" and after.inputs[0] == n.outputs[1]:
            unit = _plane_origin(g, after, by_output)
            if unit is not None and unit.inputs[0] == n.inputs[0]:
                plane_wise = [after, by_output[after.inputs[1]], unit]
        elif after.op_type == "MaxUnpool" and after.inputs[1] == n.outputs[1]:
            plane_wise = []  # whole-tensor indices: fuse_unpool checks the planes agree
        if plane_wise is None:
            continue
        gone.update(m.name for m in plane_wise)
        indices = plane_wise[0].outputs[0] if plane_wise else n.outputs[1]
        rewritten[n.name] = Node(n.name, POOL_INDICES, n.inputs, (n.outputs[0], indices),
                                 n.attrs)
    g.replace(gone, rewritten)


def _replaned(size: list[int], big: list[int]) -> np.ndarray:
    """Each flat index of a plane of `size` as the flat index of the same cell in `big`."""
    cells = np.unravel_index(np.arange(math.prod(size)), size)
    return np.ravel_multi_index(cells, big)


def _chain_to(g: Graph, value: str, roots: dict[str, Node],
              by_output: dict[str, Node]) -> tuple[list[Node], str] | None:
    """The integer arithmetic with constants that computes `value` from one of `roots`, in
    graph order, and that root; None where anything else goes in."""
    found: dict[str, Node] = {}
    reached, todo = set(), [value]
    while todo:
        v = todo.pop()
        if v in roots or g.const(v) is not None:
            reached |= {v} & roots.keys()
            continue
        n = by_output.get(v)
        if n is None or n.op_type not in _INTEGER:
            return None
        found[n.name] = n
        todo.extend(n.inputs)
    if len(reached) != 1:
        return None
    return [n for n in g.nodes if n.name in found], reached.pop()


def _moves(g: Graph, chain: list[Node], root: str, size: list[int], big: list[int]) -> bool:
    """Whether `chain` maps the plane indices of `size` to the same cells of `big`."""
    values = {root: np.arange(math.prod(size))}
    for n in chain:
        a, b = (values[v] if v in values else g.const(v).astype(np.int64) for v in n.inputs)
        values[n.outputs[0]] = _INTEGER[n.op_type](a, b)
    return bool(np.array_equal(values[chain[-1].outputs[0]], _replaned(size, big)))


def _unpool_output(g: Graph, u: Node, users: dict[str, list[Node]]) -> tuple[Node | None,
                                                                        list[Node], str]:
    """The Slice and the shape-restoring Reshape after MaxUnpool `u`, where there are (the
    Slice first), and the value that is the unpooling's output."""
    after, out = [], u.outputs[0]
    for op_type in ("Slice", "Reshape"):
        nxt = users.get(out, [])
        if len(nxt) == 1 and nxt[0].op_type == op_type and nxt[0].inputs[0] == out:
            after.append(nxt[0])
            out = nxt[0].outputs[0]
    cut = after[0] if after and after[0].op_type == "Slice" else None
    return cut, after, out


def _cuts_to(g: Graph, cut: Node | None, size: list[int], big: list[int]) -> bool:
    """Whether `cut` (a Slice or None) takes the `size` corner of planes of `big`."""
    if cut is None:
        return big == size
    axes = list(range(2, len(size) + 2))
    return len(cut.inputs) in (4, 5) and _is_const(g, cut.inputs[1], [0] * len(size)) and \
        _is_const(g, cut.inputs[2], size) and _is_const(g, cut.inputs[3], axes) and \
        (len(cut.inputs) == 4 or _is_const(g, cut.inputs[4], [1] * len(size)))


def default_size(u: Node, g: Graph) -> list[int]:
    """MaxUnpool's output size without `output_shape`: (n - 1)*stride - pads + kernel."""
    kernel, x = list(u.attrs["kernel_shape"]), g.shapes[u.inputs[0]]
    stride = list(u.attrs.get("strides", [1] * len(kernel)))
    pads = list(u.attrs.get("pads", [0] * 2 * len(kernel)))
    return [(n - 1) * s - p0 - p1 + k for n, s, k, p0, p1 in
            zip(x[1:], stride, kernel, pads[:len(kernel)], pads[len(kernel):])]


def fuse_unpool(g: Graph) -> None:
    users = consumers(g.nodes)
    by_output = producers(g.nodes)
    pools = {n.outputs[1]: n for n in g.nodes if n.op_type == POOL_INDICES}
    made = {v for n in g.nodes for v in n.outputs} | {g.input}
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for u in g.nodes:
        if u.op_type != "MaxUnpool" or u.inputs[0] not in g.shapes:
            continue
        cut, after, out = _unpool_output(g, u, users)
        if out not in g.shapes:
            continue
        size = list(g.shapes[out][1:])
        big = [max(d, n) for d, n in zip(default_size(u, g), size)]
        offset = by_output.get(u.inputs[1])
        if u.inputs[1] in pools:  # ONNX's own pair: whole-tensor indices into the same planes
            pool, chain, extra = pools[u.inputs[1]], [], []
            if list(g.shapes[pool.inputs[0]][1:]) != size or cut is not None:
                continue
        elif offset is not None and offset.op_type == "Add" and offset.inputs[1] not in made \
                and g.const(offset.inputs[1]) is None:
            # cnnc's export: the planes' offsets were computed from shapes (dropped)
            found = _chain_to(g, offset.inputs[0], pools, by_output)
            if found is None or not _cuts_to(g, cut, size, big) or not (
                    _moves(g, *found, size, big) if found[0] else big == size):
                continue
            (chain, root), extra = found, [offset]
            pool = pools[root]
        else:
            continue
        removed = [*chain, *extra, *after]
        inside = {v for n in removed for v in n.outputs} | {u.outputs[0]}
        if any(m not in removed and m is not u for v in inside - {out} for m in users.get(v, [])):
            continue  # a value on the way is read elsewhere
        gone.update(n.name for n in removed)
        last = after[-1] if after else u  # cnnc's export names it after the layer
        rewritten[u.name] = Node(last.name, UNPOOL, (u.inputs[0], pool.outputs[1], pool.inputs[0]),
                                 (out,), u.attrs)
    g.replace(gone, rewritten)


def rewrite(g: Graph) -> None:
    fuse_pool_indices(g)
    fuse_unpool(g)
