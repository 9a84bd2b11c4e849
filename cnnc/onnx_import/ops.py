"""One ONNX node -> cnnc spec entries: the mapping table MAPPINGS (op type -> a small function),
the reverse of the emitters in cnnc/ops/onnx_*.py and of torch.onnx.export's forms.

A mapping returns a list of Entry (usually one), Alias (the node passes its input on: Identity,
inference Dropout) or Missing (what cnnc lacks, for the one-line report). Shapes are cnnc's:
batch axis excluded, so ONNX axis = IR axis + 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnc.onnx_import import patterns
from cnnc.onnx_import.reader import Graph, Node


@dataclass
class Entry:
    op: dict[str, Any]                       # the spec entry without `id` and `from`
    reads: tuple[str, ...]                   # the value names it reads, in order
    params: dict[str, np.ndarray] = field(default_factory=dict)  # cnnc name -> array


@dataclass(frozen=True)
class Alias:
    value: str                               # the value the node's output stands for


@dataclass(frozen=True)
class Missing:
    what: str


Mapped = list[Entry] | Alias | Missing
Mapping = Callable[[Node, Graph], Mapped]


def _compact(values: list[int]) -> int | list[int]:
    """One number where every axis agrees, as the zoo specs write it."""
    return values[0] if len(set(values)) == 1 else list(values)


def _padding(pads: list[int]) -> int | list[int] | list[list[int]]:
    """ONNX's flat pads (all befores, then all afters) as cnnc's `padding`."""
    n = len(pads) // 2
    before, after = pads[:n], pads[n:]
    if before == after:
        return _compact(before)
    return [[b, a] for b, a in zip(before, after)]


def _window(n: Node, g: Graph, rank: int) -> tuple[list[int], list[int], list[int], list[int]]:
    k = list(n.attrs["kernel_shape"])
    return (k, list(n.attrs.get("strides", [1] * rank)), list(n.attrs.get("dilations", [1] * rank)),
            list(n.attrs.get("pads", [0] * 2 * rank)))


def _auto_pad(n: Node) -> Missing | None:
    if n.attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return Missing("attribute `auto_pad` (write explicit `pads`)")
    return None


def _weights(n: Node, g: Graph, names: tuple[str, ...]) -> dict[str, np.ndarray] | Missing:
    """The node's constant inputs after the first as cnnc parameters (`weight`, `bias`)."""
    out = {}
    for name, value in zip(names, n.inputs[1:]):
        if not value:
            continue
        array = g.const(value)
        if array is None:
            return Missing(f"`{name}` is computed, not a constant")
        out[name] = array.astype(np.float32)
    return out


def conv(n: Node, g: Graph) -> Mapped:
    params = _weights(n, g, ("weight", "bias"))
    if isinstance(params, Missing) or (m := _auto_pad(n)):
        return params if isinstance(params, Missing) else m
    w = params["weight"]
    k, s, d, p = _window(n, g, w.ndim - 2)
    op = {"op": "conv", "out": int(w.shape[0]), "kernel": _compact(k)}
    op |= {"stride": _compact(s)} if set(s) != {1} else {}
    op |= {"padding": _padding(p)} if any(p) else {}
    op |= {"dilation": _compact(d)} if set(d) != {1} else {}
    op |= {"groups": int(n.attrs["group"])} if n.attrs.get("group", 1) != 1 else {}
    op |= {} if "bias" in params else {"bias": False}
    return [Entry(op, n.inputs[:1], params)]


def conv_transpose(n: Node, g: Graph) -> Mapped:
    params = _weights(n, g, ("weight", "bias"))
    if isinstance(params, Missing) or (m := _auto_pad(n)):
        return params if isinstance(params, Missing) else m
    if "output_shape" in n.attrs:
        return Missing("attribute `output_shape` (cnnc takes `output_padding`)")
    w, group = params["weight"], int(n.attrs.get("group", 1))
    k, s, d, p = _window(n, g, w.ndim - 2)
    half = len(p) // 2
    if p[:half] != p[half:]:
        return Missing(f"asymmetric `pads` {p}")
    op = {"op": "conv_transpose", "out": int(w.shape[1]) * group, "kernel": _compact(k)}
    op |= {"stride": _compact(s)} if set(s) != {1} else {}
    op |= {"padding": _compact(p[:half])} if any(p) else {}
    extra = list(n.attrs.get("output_padding", []))
    op |= {"output_padding": _compact(extra)} if any(extra) else {}
    op |= {"dilation": _compact(d)} if set(d) != {1} else {}
    op |= {"groups": group} if group != 1 else {}
    op |= {} if "bias" in params else {"bias": False}
    return [Entry(op, n.inputs[:1], params)]


def gemm(n: Node, g: Graph) -> Mapped:
    """A fully connected layer: Y = alpha * X @ B' + beta * C, B' = B.T when transB."""
    if n.attrs.get("transA", 0):
        return Missing("attribute `transA` (cnnc's linear reads samples as rows)")
    params = _weights(n, g, ("weight", "bias"))
    if isinstance(params, Missing):
        return params
    w = params["weight"] * np.float32(n.attrs.get("alpha", 1.0))
    params["weight"] = w if n.attrs.get("transB", 0) else np.ascontiguousarray(w.T)
    if "bias" in params:
        out = params["weight"].shape[0]
        bias = params["bias"] * np.float32(n.attrs.get("beta", 1.0))
        if bias.size != out:
            return Missing(f"bias of shape {list(bias.shape)} (cnnc adds one per output)")
        params["bias"] = bias.reshape(out)
    return _linear(n, g, params)


def matmul(n: Node, g: Graph) -> Mapped:
    b = g.const(n.inputs[1])
    if b is None or b.ndim != 2:
        return Missing("a product of two computed tensors (cnnc has linear: X @ constant)")
    return _linear(n, g, {"weight": np.ascontiguousarray(b.T.astype(np.float32))})


def _linear(n: Node, g: Graph, params: dict[str, np.ndarray]) -> Mapped:
    if len(g.shapes.get(n.inputs[0], (0, 0))) != 1:
        return Missing("an input that is not a vector per sample (flatten it first)")
    op = {"op": "linear", "out": int(params["weight"].shape[0])}
    return [Entry(op | ({} if "bias" in params else {"bias": False}), n.inputs[:1], params)]


def batchnorm(n: Node, g: Graph) -> Mapped:
    params = _weights(n, g, ("weight", "bias", "running_mean", "running_var"))
    if isinstance(params, Missing):
        return params
    if len(n.outputs) > 1 and any(n.outputs[1:]):
        return Missing("training-mode outputs (export in eval mode)")
    op: dict[str, Any] = {"op": "batchnorm"}
    eps = float(np.float32(n.attrs.get("epsilon", 1e-5)))
    op |= {"eps": float(f"{eps:.6g}")} if f"{eps:.6g}" != "1e-05" else {}
    momentum = round(1.0 - float(np.float32(n.attrs.get("momentum", 0.9))), 6)
    op |= {"momentum": momentum} if momentum != 0.1 else {}
    # cnnc's export writes a BatchNorm without affine map with `<id>/<n>:const` ones and zeros
    if all(v.endswith(":const") for v in n.inputs[1:3]):
        op["affine"] = False
        del params["weight"], params["bias"]
    return [Entry(op, n.inputs[:1], params)]


def _pool(op: str) -> Mapping:
    def mapping(n: Node, g: Graph) -> Mapped:
        if (m := _auto_pad(n)) is not None:
            return m
        if len(n.outputs) > 1 and n.outputs[1]:
            return Missing("the indices output (cnnc's maxpool indices feed maxunpool only)")
        x = g.shapes[n.inputs[0]]
        k, s, d, p = _window(n, g, len(x) - 1)
        entry: dict[str, Any] = {"op": op, "kernel": _compact(k)}
        entry |= {"stride": _compact(s)} if s != k else {}
        ceil = bool(n.attrs.get("ceil_mode", 0))
        half = len(p) // 2
        y = g.shapes.get(n.outputs[0])
        if not ceil and p[:half] != p[half:] and y is not None and \
                _ceil_out(x[1:], k, s, d, p[:half]) == list(y[1:]):
            p, ceil = p[:half] * 2, True  # cnnc's export writes ceil mode as pads after the input
        entry |= {"padding": _padding(p)} if any(p) else {}
        entry |= {"dilation": _compact(d)} if set(d) != {1} else {}
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


def _plain(op: str, **fixed: Any) -> Mapping:
    def mapping(n: Node, g: Graph) -> Mapped:
        return [Entry({"op": op, **fixed}, n.inputs[:1])]
    return mapping


def _merge(op: str) -> Mapping:
    def mapping(n: Node, g: Graph) -> Mapped:
        if any(g.const(v) is not None for v in n.inputs):
            return Missing(f"a constant operand (cnnc's `{op}` merges computed tensors)")
        return [Entry({"op": op}, n.inputs)]
    return mapping


def clip(n: Node, g: Graph) -> Mapped:
    bounds = [n.attrs.get("min"), n.attrs.get("max")]
    for i, value in enumerate(n.inputs[1:3]):
        if value:
            array = g.const(value)
            if array is None:
                return Missing("computed bounds")
            bounds[i] = float(array)
    if bounds == [0.0, 6.0]:
        return [Entry({"op": "relu6"}, n.inputs[:1])]
    if bounds[0] == 0.0 and bounds[1] is None:
        return [Entry({"op": "relu"}, n.inputs[:1])]
    return Missing(f"bounds {bounds} (cnnc has relu [0, inf) and relu6 [0, 6])")


def leaky_relu(n: Node, g: Graph) -> Mapped:
    alpha = float(f"{float(np.float32(n.attrs.get('alpha', 0.01))):.6g}")
    return [Entry({"op": "leaky_relu", "negative_slope": alpha}, n.inputs[:1])]


def hard_sigmoid(n: Node, g: Graph) -> Mapped:
    alpha, beta = n.attrs.get("alpha", 0.2), n.attrs.get("beta", 0.5)
    if not (np.isclose(alpha, 1 / 6) and np.isclose(beta, 0.5)):
        return Missing(f"alpha {alpha:g}, beta {beta:g} (cnnc's hardsigmoid is x/6 + 1/2)")
    return [Entry({"op": "hardsigmoid"}, n.inputs[:1])]


def sub(n: Node, g: Graph) -> Mapped:
    one = g.const(n.inputs[0])
    if one is not None and one.size == 1 and float(one) == 1.0:
        return [Entry({"op": "one_minus"}, n.inputs[1:])]
    return Missing("a difference other than 1 - x (cnnc has one_minus)")


def softmax(n: Node, g: Graph) -> Mapped:
    rank = len(g.shapes[n.inputs[0]]) + 1
    if n.attrs.get("axis", -1) not in (1, 1 - rank):
        return Missing(f"`axis` {n.attrs.get('axis', -1)} (cnnc's softmax is over channels)")
    return [Entry({"op": "softmax"}, n.inputs[:1])]


def concat(n: Node, g: Graph) -> Mapped:
    rank = len(g.shapes[n.inputs[0]]) + 1
    if n.attrs["axis"] not in (1, 1 - rank):
        return Missing(f"`axis` {n.attrs['axis']} (cnnc concatenates channels)")
    return _merge("concat")(n, g)


def flatten(n: Node, g: Graph) -> Mapped:
    if n.attrs.get("axis", 1) != 1:
        return Missing(f"`axis` {n.attrs['axis']} (cnnc keeps the batch axis alone)")
    return [Entry({"op": "flatten"}, n.inputs[:1])]


def reshape(n: Node, g: Graph) -> Mapped:
    """Reshape, Squeeze and Unsqueeze: flatten when the result is a vector, else a reshape to
    the shape inference gave (the batch axis must stay in front)."""
    y = g.shapes.get(n.outputs[0])
    if y is None:
        return Missing("an output shape that shape inference could not fix")
    if len(y) == 1 and len(g.shapes[n.inputs[0]]) > 1:
        return [Entry({"op": "flatten"}, n.inputs[:1])]
    return [Entry({"op": "reshape", "shape": list(y)}, n.inputs[:1])]


def transpose(n: Node, g: Graph) -> Mapped:
    perm = list(n.attrs["perm"])
    if perm[0] != 0:
        return Missing(f"`perm` {perm} moves the batch axis")
    return [Entry({"op": "permute", "dims": [d - 1 for d in perm[1:]]}, n.inputs[:1])]


def lrn(n: Node, g: Graph) -> Mapped:
    size = int(n.attrs["size"])
    if size % 2 == 0:
        return Missing(f"an even `size` {size} (ONNX's window is centred differently)")
    op = {"op": "lrn", "size": size}
    for key, name, default in (("alpha", "alpha", 1e-4), ("beta", "beta", 0.75),
                               ("bias", "k", 1.0)):
        value = float(f"{float(np.float32(n.attrs.get(key, default))):.6g}")
        op |= {name: value} if value != default else {}
    return [Entry(op, n.inputs[:1])]


_PAD_MODES = {"constant": "zeros", "reflect": "reflect", "edge": "replicate"}


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
    op: dict[str, Any] = {"op": "pad", "padding": _padding(pads[2:half] + pads[half + 2:])}
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
        return [Entry(op | {"scale": _compact([int(v) if v.is_integer() else v for v in s])},
                      n.inputs[:1])]
    y = g.shapes.get(n.outputs[0])
    if y is None:
        return Missing("an output size that shape inference could not fix")
    return [Entry(op | {"size": _compact(list(y[1:]))}, n.inputs[:1])]


def adaptive_avgpool(n: Node, g: Graph) -> Mapped:
    y = g.shapes.get(n.outputs[0])
    if y is None:
        return Missing("an output size that shape inference could not fix")
    return [Entry({"op": "adaptive_avgpool", "size": _compact(list(y[1:]))}, n.inputs[:1])]


def _alias(n: Node, g: Graph) -> Mapped:
    return Alias(n.inputs[0])


MAPPINGS: dict[str, Mapping] = {
    "Conv": conv,
    "ConvTranspose": conv_transpose,
    "Gemm": gemm,
    "MatMul": matmul,
    "BatchNormalization": batchnorm,
    "MaxPool": _pool("maxpool"),
    "AveragePool": _pool("avgpool"),
    "GlobalAveragePool": _plain("global_avgpool"),
    "GlobalMaxPool": _plain("global_maxpool"),
    "Relu": _plain("relu"),
    "Clip": clip,
    "LeakyRelu": leaky_relu,
    "Sigmoid": _plain("sigmoid"),
    "Tanh": _plain("tanh"),
    "HardSigmoid": hard_sigmoid,
    "HardSwish": _plain("hardswish"),
    "Softmax": softmax,
    "Add": _merge("add"),
    "Mul": _merge("mul"),
    "Sub": sub,
    "Concat": concat,
    "Flatten": flatten,
    "Reshape": reshape,
    "Squeeze": reshape,
    "Unsqueeze": reshape,
    "Transpose": transpose,
    "LRN": lrn,
    "Pad": pad,
    "Slice": slice_,
    "Resize": resize,
    "Identity": _alias,
    patterns.SILU: _plain("silu"),
    patterns.ADAPTIVE: adaptive_avgpool,
    "Dropout": _alias,
}
