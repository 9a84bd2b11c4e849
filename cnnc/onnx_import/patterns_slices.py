"""Rewrites (patterns.rewrite) of the forms built from Slices and a Concat along one axis:

- circular padding (cnnc's export and torch's `F.pad(mode="circular")`: the input's far ends
  sliced off and concatenated on, one axis at a time) becomes one Pad in ONNX's own `wrap` mode,
  which ops_windows maps to `mode: circular`;
- a Pad in a mode other than zeros that only a Conv without pads reads goes into that Conv as
  its pads and `padding_mode` (cnnc's export of a conv's reflect/replicate/circular padding);
- cnnc's adaptive max pooling with unequal bins (per axis, each bin sliced and ReduceMax'ed,
  the bins concatenated) becomes one ADAPTIVE_MAX node.
"""

from __future__ import annotations

from cnnc.onnx_import.reader import Graph, Node, consumers
from cnnc.ops.onnx_windows import _bins

ADAPTIVE_MAX = "AdaptiveMaxPool"  # an op type beside ONNX's
PADDING_MODE = "padding_mode"  # the attribute a Conv is given here: cnnc's word for the mode
_CONV_MODES = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _axis_slice(g: Graph, n: Node | None, x: str, axis: int) -> tuple[int, int] | None:
    """(start, end) within x's size where `n` slices x along `axis` alone with step 1."""
    if n is None or n.op_type != "Slice" or n.inputs[0] != x or len(n.inputs) < 4:
        return None
    parts = [g.const(v) if v else None for v in n.inputs[1:5]]
    if any(p is None or p.size != 1 for p in parts[:3]) or (len(parts) > 3 and parts[3] is not None
                                                          and int(parts[3].item()) != 1):
        return None
    size, rank = g.shapes[x][axis - 1], len(g.shapes[x]) + 1
    if int(parts[2].item()) % rank != axis:
        return None
    start, end = (int(p.item()) for p in parts[:2])
    return (start + size if start < 0 else min(start, size),
            end + size if end < 0 else min(end, size))


def _axis(g: Graph, n: Node) -> int:
    return int(n.attrs["axis"]) % (len(g.shapes[n.outputs[0]]) + 1)


def _wrap(g: Graph, c: Node, by_output: dict[str, Node]) -> tuple[str, int, int] | None:
    """(x, before, after) where Concat `c` is x with its far ends wrapped on along its axis."""
    if c.op_type != "Concat" or not 2 <= len(c.inputs) <= 3 or c.outputs[0] not in g.shapes:
        return None
    axis = _axis(g, c)
    if axis < 2:  # channels are not padded
        return None
    for at in range(len(c.inputs)):  # the position of x itself among the parts
        x = c.inputs[at]
        if x not in g.shapes or (at, len(c.inputs)) not in ((0, 2), (1, 2), (1, 3)):
            continue
        size = g.shapes[x][axis - 1]
        cuts = [_axis_slice(g, by_output.get(v), x, axis) for v in c.inputs if v != x]
        if len(cuts) != len(c.inputs) - 1 or None in cuts:
            continue
        before = cuts[0] if at == 1 else None
        after = cuts[-1] if at + 1 < len(c.inputs) else None
        if before and before[1] != size or after and after[0] != 0:
            continue
        return x, size - before[0] if before else 0, after[1] if after else 0
    return None


def _wrap_pad(n: Node | None) -> bool:
    """A Pad in `wrap` mode with its pads as an attribute, as fuse_circular_pad writes it."""
    return n is not None and n.op_type == "Pad" and len(n.inputs) == 1 and \
        _mode(n) == "wrap" and "pads" in n.attrs


def fuse_circular_pad(g: Graph) -> None:
    users = consumers(g.nodes)
    by_output = {n.outputs[0]: n for n in g.nodes}
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for c in g.nodes:
        found = _wrap(g, c, by_output)
        if found is None:
            continue
        x, before, after = found
        cuts = [by_output[v] for v in c.inputs if v != x]
        if any(users[s.outputs[0]] != [c] for s in cuts):
            continue
        rank, axis = len(g.shapes[x]) + 1, _axis(g, c)
        pads = [0] * 2 * rank
        pads[axis], pads[rank + axis] = before, after
        first = rewritten.get(by_output[x].name) if x in by_output else None
        if _wrap_pad(first) and {m.name for m in users[x]} == {m.name for m in [c, *cuts]}:
            # the wrap of an axis before, read only here: one Pad for both
            gone.add(first.name)
            x, pads = first.inputs[0], [a + b for a, b in zip(pads, first.attrs["pads"])]
        gone.update(s.name for s in cuts)
        rewritten[c.name] = Node(c.name, "Pad", (x,), c.outputs, {"mode": "wrap", "pads": pads})
    g.replace(gone, rewritten)


def _mode(n: Node) -> str:
    mode = n.attrs.get("mode", "constant")
    return mode.decode() if isinstance(mode, bytes) else mode


def _pads(g: Graph, n: Node) -> list[int] | None:
    """A Pad's constant pads, spatial axes only; None where it pads the batch or channels, or
    crops."""
    pads = g.const(n.inputs[1]) if len(n.inputs) > 1 and n.inputs[1] else n.attrs.get("pads")
    if pads is None or (len(n.inputs) > 3 and n.inputs[3]):
        return None
    pads = [int(v) for v in pads]
    half = len(pads) // 2
    if any(pads[:2] + pads[half:half + 2]) or min(pads) < 0:  # negative pads crop
        return None
    return pads[2:half] + pads[half + 2:]


def _zero_value(g: Graph, pad: Node) -> bool:
    """A constant Pad fills with zeros: no value given, or a constant 0."""
    if len(pad.inputs) < 3 or not pad.inputs[2]:
        return True
    value = g.const(pad.inputs[2])
    return value is not None and value.size == 1 and float(value) == 0.0


def fold_pad_into_conv(g: Graph) -> None:
    users = consumers(g.nodes)
    by_output = {n.outputs[0]: n for n in g.nodes}
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for conv in g.nodes:
        pad = by_output.get(conv.inputs[0]) if conv.op_type == "Conv" else None
        zeros = pad is not None and pad.op_type == "Pad" and _mode(pad) == "constant" and \
            _zero_value(g, pad)  # TensorFlow's SAME padding as torch models write it
        if pad is None or pad.op_type != "Pad" or not (zeros or _mode(pad) in _CONV_MODES) or \
                len(users[pad.outputs[0]]) != 1 or any(conv.attrs.get("pads", [])):
            continue
        pads = _pads(g, pad)
        if pads is None or conv.attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            continue
        gone.add(pad.name)
        attrs = conv.attrs | {"pads": pads} | ({} if zeros else
                                              {PADDING_MODE: _CONV_MODES[_mode(pad)]})
        rewritten[conv.name] = Node(conv.name, "Conv", (pad.inputs[0], *conv.inputs[1:]),
                                    conv.outputs, attrs)
    g.replace(gone, rewritten)


def _bin(g: Graph, n: Node, by_output: dict[str, Node], axis: int) -> tuple[str, int, int] | None:
    """(x, lo, hi) where `n` is the max over x[lo:hi] along `axis`, kept as an axis of 1."""
    if n.op_type != "ReduceMax" or not n.attrs.get("keepdims", 1):
        return None
    axes = n.attrs.get("axes") if len(n.inputs) < 2 else g.const(n.inputs[1])
    cut = by_output.get(n.inputs[0])
    if axes is None or [int(a) for a in axes] != [axis] or cut is None or not cut.inputs:
        return None
    span = _axis_slice(g, cut, cut.inputs[0], axis) if cut.inputs[0] in g.shapes else None
    return None if span is None else (cut.inputs[0], *span)


def fuse_adaptive_maxpool(g: Graph) -> None:
    users = consumers(g.nodes)
    by_output = {n.outputs[0]: n for n in g.nodes}
    gone: set[str] = set()
    rewritten: dict[str, Node] = {}
    for c in g.nodes:
        if c.op_type != "Concat" or c.outputs[0] not in g.shapes:
            continue
        axis = _axis(g, c)
        parts = [by_output.get(v) for v in c.inputs]
        bins = [_bin(g, p, by_output, axis) if p else None for p in parts]
        if None in bins or len({x for x, _, _ in bins}) != 1:
            continue
        x = bins[0][0]
        if [(lo, hi) for _, lo, hi in bins] != _bins(g.shapes[x][axis - 1], len(bins)) or \
                any(len(users[v]) != 1 for p in parts for v in (p.outputs[0], p.inputs[0])):
            continue
        first = rewritten.get(by_output[x].name) if x in by_output else None
        if first is not None and first.op_type == ADAPTIVE_MAX and len(users[x]) == len(bins):
            gone.add(first.name)  # the axis before, read only here: one pooling for both
            x = first.inputs[0]
        gone.update(n.name for p in parts for n in (p, by_output[p.inputs[0]]))
        rewritten[c.name] = Node(c.name, ADAPTIVE_MAX, (x,), c.outputs, {})
    g.replace(gone, rewritten)


def rewrite(g: Graph) -> None:
    fuse_adaptive_maxpool(g)
    fuse_circular_pad(g)
    fold_pad_into_conv(g)
