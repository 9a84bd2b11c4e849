"""ONNX windowed and resampling nodes -> spec entries: convolutions, pools, padding, slicing,
resizing (the reverse of cnnc/ops/onnx_windows.py; the table is ops.MAPPINGS)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnc.onnx_import import patterns_slices as slices
from cnnc.onnx_import import patterns_windows as forms
from cnnc.onnx_import.mapped import Entry, Mapped, Mapping, Missing, compact, padding, weights
from cnnc.onnx_import.reader import Graph, Node


def _window(n: Node, g: Graph, rank: int) -> tuple[list[int], list[int], list[int], list[int]]:
    k = list(n.attrs["kernel_shape"])
    return (k, list(n.attrs.get("strides", [1] * rank)), list(n.attrs.get("dilations", [1] * rank)),
            list(n.attrs.get("pads", [0] * 2 * rank)))


def _auto_pad(n: Node) -> Missing | None:
    if n.attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return Missing("attribute `auto_pad` (write explicit `pads`)")
    return None


def conv(n: Node, g: Graph) -> Mapped:
    params = weights(n, g, ("weight", "bias"))
    if isinstance(params, Missing) or (m := _auto_pad(n)):
        return params if isinstance(params, Missing) else m
    w = params["weight"]
    k, s, d, p = _window(n, g, w.ndim - 2)
    op = {"op": "conv", "out": int(w.shape[0]), "kernel": compact(k)}
    op |= {"stride": compact(s)} if set(s) != {1} else {}
    op |= {"padding": padding(p)} if any(p) else {}
    op |= {"dilation": compact(d)} if set(d) != {1} else {}
    op |= {"groups": int(n.attrs["group"])} if n.attrs.get("group", 1) != 1 else {}
    op |= {} if "bias" in params else {"bias": False}
    op |= {"padding_mode": n.attrs[slices.PADDING_MODE]} if slices.PADDING_MODE in n.attrs else {}
    return [Entry(op, n.inputs[:1], params)]


def conv_transpose(n: Node, g: Graph) -> Mapped:
    params = weights(n, g, ("weight", "bias"))
    if isinstance(params, Missing) or (m := _auto_pad(n)):
        return params if isinstance(params, Missing) else m
    if "output_shape" in n.attrs:
        return Missing("attribute `output_shape` (cnnc takes `output_padding`)")
    w, group = params["weight"], int(n.attrs.get("group", 1))
    k, s, d, p = _window(n, g, w.ndim - 2)
    half = len(p) // 2
    if p[:half] != p[half:]:
        return Missing(f"asymmetric `pads` {p}")
    op = {"op": "conv_transpose", "out": int(w.shape[1]) * group, "kernel": compact(k)}
    op |= {"stride": compact(s)} if set(s) != {1} else {}
    op |= {"padding": compact(p[:half])} if any(p) else {}
    extra = list(n.attrs.get("output_padding", []))
    op |= {"output_padding": compact(extra)} if any(extra) else {}
    op |= {"dilation": compact(d)} if set(d) != {1} else {}
    op |= {"groups": group} if group != 1 else {}
    op |= {} if "bias" in params else {"bias": False}
    return [Entry(op, n.inputs[:1], params)]


def pool(op: str) -> Mapping:
    def mapping(n: Node, g: Graph) -> Mapped:
        if (m := _auto_pad(n)) is not None:
            return m
        if len(n.outputs) > 1 and n.outputs[1] and n.op_type != forms.POOL_INDICES:
            return Missing("whole-tensor indices (cnnc's maxpool indices count per plane and "
                           "feed maxunpool only)")
        x = g.shapes[n.inputs[0]]
        k, s, d, p = _window(n, g, len(x) - 1)
        entry: dict[str, Any] = {"op": op, "kernel": compact(k)}
        entry |= {"stride": compact(s)} if s != k else {}
        ceil = bool(n.attrs.get("ceil_mode", 0))
        half = len(p) // 2
        y = g.shapes.get(n.outputs[0])
        if not ceil and p[:half] != p[half:] and y is not None and \
                _ceil_out(x[1:], k, s, d, p[:half]) == list(y[1:]):
            p, ceil = p[:half] * 2, True  # cnnc's export writes ceil mode as pads after the input
        entry |= {"padding": padding(p)} if any(p) else {}
        entry |= {"dilation": compact(d)} if set(d) != {1} else {}
        entry |= {"ceil_mode": True} if ceil else {}
        if op == "avgpool" and any(p) and not n.attrs.get("count_include_pad", 0):
            entry["count_include_pad"] = False
        return [Entry(entry, n.inputs[:1])]
    return mapping


def _ceil_out(sizes, kernel, stride, dilation, pads) -> list[int]:
    """PyTorch's ceil-mode output sizes with `pads` on both sides."""
    outs = []
    for n, k, s, d, p in zip(sizes, kernel, stride, dilation, pads):
        out = -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1
        outs.append(out - 1 if (out - 1) * s >= n + p else out)
    return outs


_PAD_MODES = {"constant": "zeros", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def pad(n: Node, g: Graph) -> Mapped:
    pads = g.const(n.inputs[1]) if len(n.inputs) > 1 else np.asarray(n.attrs.get("pads"))
    mode = n.attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if pads is None or mode not in _PAD_MODES or (len(n.inputs) > 3 and n.inputs[3]):
        return Missing("computed pads, an `axes` input or a mode cnnc lacks")
    pads = [int(v) for v in pads]
    half = len(pads) // 2
    if any(pads[:2]) or any(pads[half:half + 2]):
        return Missing("padding of the batch or channel axis")
    op: dict[str, Any] = {"op": "pad", "padding": padding(pads[2:half] + pads[half + 2:])}
    op |= {"mode": _PAD_MODES[mode]} if mode != "constant" else {}
    value = g.const(n.inputs[2]) if len(n.inputs) > 2 and n.inputs[2] else None
    op |= {"value": float(value)} if value is not None and float(value) != 0.0 else {}
    return [Entry(op, n.inputs[:1])]


def slice_(n: Node, g: Graph) -> Mapped:
    """One slice layer per sliced axis (cnnc's crop exports as one Slice over all of them)."""
    parts = [g.const(v) if v else None for v in n.inputs[1:5]]
    if any(p is None for p in parts[:2]) or any(n.inputs[i] and parts[i - 1] is None
                                               for i in (3, 4) if i < len(n.inputs)):
        return Missing("computed starts, ends, axes or steps")
    starts, ends = parts[0], parts[1]
    rank = len(g.shapes[n.inputs[0]]) + 1
    axes = parts[2] if len(parts) > 2 and parts[2] is not None else range(len(starts))
    steps = parts[3] if len(parts) > 3 and parts[3] is not None else [1] * len(starts)
    entries, x = [], n.inputs[0]
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) % rank
        if axis == 0 or step < 1:
            return Missing("a slice of the batch axis or a negative step")
        size = g.shapes[n.inputs[0]][axis - 1]
        op = {"op": "slice", "axis": axis - 1, "start": int(start)}
        op |= {"stop": int(end)} if int(end) < size else {}
        op |= {"step": int(step)} if step != 1 else {}
        entries.append(Entry(op, (x,)))
        x = ""  # the next slice reads the one before
    return entries


def resize(n: Node, g: Graph) -> Mapped:
    def text(key: str, default: str) -> str:
        value = n.attrs.get(key, default)
        return value.decode() if isinstance(value, bytes) else value
    mode, how = text("mode", "nearest"), text("coordinate_transformation_mode", "half_pixel")
    x = g.shapes[n.inputs[0]]
    dims = len(x) - 1
    if mode == "nearest" and (how, text("nearest_mode", "round_prefer_floor")) == \
            ("asymmetric", "floor"):
        op: dict[str, Any] = {"op": "upsample"}
    elif mode == "linear" and how in ("align_corners", "pytorch_half_pixel", "half_pixel"):
        op = {"op": "upsample", "mode": {1: "linear", 2: "bilinear", 3: "trilinear"}[dims]}
        op |= {"align_corners": True} if how == "align_corners" else {}
    else:
        return Missing(f"mode `{mode}` with `{how}` coordinates (cnnc has PyTorch's nearest "
                       "and (bi/tri)linear)")
    scales = g.const(n.inputs[2]) if len(n.inputs) > 2 and n.inputs[2] else None
    if scales is not None and scales.size:
        s = [float(v) for v in scales[2:]]
        return [Entry(op | {"scale": compact([int(v) if v.is_integer() else v for v in s])},
                      n.inputs[:1])]
    y = g.shapes.get(n.outputs[0])
    if y is None:
        return Missing("an output size that shape inference could not fix")
    return [Entry(op | {"size": compact(list(y[1:]))}, n.inputs[:1])]


def adaptive(op: str) -> Mapping:
    def mapping(n: Node, g: Graph) -> Mapped:
        y = g.shapes.get(n.outputs[0])
        if y is None:
            return Missing("an output size that shape inference could not fix")
        return [Entry({"op": op, "size": compact(list(y[1:]))}, n.inputs[:1])]
    return mapping


adaptive_avgpool = adaptive("adaptive_avgpool")


def maxunpool(n: Node, g: Graph) -> Mapped:
    """patterns_windows' UNPOOL node (values, plane indices, the pooling's input): the pooling's
    input is read for the output size where that is not MaxUnpool's default."""
    kernel = list(n.attrs["kernel_shape"])
    stride = list(n.attrs.get("strides", [1] * len(kernel)))
    pads = list(n.attrs.get("pads", [0] * 2 * len(kernel)))
    if pads[:len(kernel)] != pads[len(kernel):]:
        return Missing(f"asymmetric `pads` {pads} (cnnc unpools with the same on both sides)")
    op: dict[str, Any] = {"op": "maxunpool", "kernel": compact(kernel)}
    op |= {"stride": compact(stride)} if stride != kernel else {}
    op |= {"padding": compact(pads[:len(kernel)])} if any(pads) else {}
    size = list(g.shapes[n.outputs[0]][1:])
    if size == forms.default_size(n, g):
        return [Entry(op, n.inputs[:2])]
    if list(g.shapes[n.inputs[2]][1:]) != size:
        return Missing(f"an output size {size} that is neither the default nor the pooling's "
                       "input size (cnnc's `like`)")
    return [Entry(op, n.inputs)]


# the op types of patterns_windows' and patterns_slices' rewrites (ops.MAPPINGS)
FORMS: dict[str, Mapping] = {
    forms.POOL_INDICES: pool("maxpool"),
    forms.UNPOOL: maxunpool,
    slices.ADAPTIVE_MAX: adaptive("adaptive_maxpool"),
}
