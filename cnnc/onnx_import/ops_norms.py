"""ONNX normalisations -> spec entries: batchnorm, layernorm, groupnorm (InstanceNormalization
is groupnorm with a group per channel) and LRN, from single nodes and from the forms that
patterns_norm.py fuses; and Mul, which is `scale` (a norm's scale alone, LayerScale) where one
factor is a constant per channel (the table is ops.MAPPINGS)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnc.onnx_import.mapped import Entry, Mapped, Missing, per_channel, weights
from cnnc.onnx_import.reader import Graph, Node


def _eps(n: Node) -> dict[str, float]:
    """`eps` where it is not cnnc's default (1e-5 for every norm), at float32 precision."""
    eps = f"{float(np.float32(n.attrs.get('epsilon', 1e-5))):.6g}"
    return {"eps": float(eps)} if eps != "1e-05" else {}


def _affine(n: Node, g: Graph, c: int) -> dict[str, np.ndarray] | Missing:
    """The norm's scale and shift (inputs 1 and 2) as (C,) `weight` and `bias`; none where they
    are the fixed ones and zeros a norm without an affine map is written with."""
    names = [*n.inputs[1:3], "", ""][:2]  # ONNX's shift may be left out
    scale, shift = (g.const(v) if v else None for v in names)
    if scale is None:
        return Missing("a scale that is computed or absent (cnnc's norms learn one per channel)")
    if names[1] and shift is None:
        return Missing("a shift that is computed, not a constant")
    if all(g.is_literal(v) for v in names if v) and np.all(scale == 1) and (
            shift is None or np.all(shift == 0)):
        return {}
    shift = np.zeros(c, np.float32) if shift is None else shift  # ONNX's optional shift
    if scale.size != c or shift.size != c:
        return Missing(f"a scale of shape {list(scale.shape)} and a shift of shape "
                       f"{list(shift.shape)} (cnnc's norms have one of each per channel, {c})")
    return {"weight": scale.reshape(c).astype(np.float32),
            "bias": shift.reshape(c).astype(np.float32)}


def _norm(op: dict[str, Any], n: Node, g: Graph) -> Mapped:
    params = _affine(n, g, g.shapes[n.inputs[0]][0])
    if isinstance(params, Missing):
        return params
    return [Entry(op | _eps(n) | ({} if params else {"affine": False}), n.inputs[:1], params)]


def batchnorm(n: Node, g: Graph) -> Mapped:
    stats = weights(n, g, ("weight", "bias", "running_mean", "running_var"))
    if isinstance(stats, Missing):
        return stats
    if len(n.outputs) > 1 and any(n.outputs[1:]):
        return Missing("training-mode outputs (export in eval mode)")
    op: dict[str, Any] = {"op": "batchnorm"}
    momentum = round(1.0 - float(np.float32(n.attrs.get("momentum", 0.9))), 6)
    op |= {"momentum": momentum} if momentum != 0.1 else {}
    mapped = _norm(op, n, g)
    if isinstance(mapped, list):
        mapped[0].params |= {k: stats[k] for k in ("running_mean", "running_var")}
    return mapped


def layernorm(n: Node, g: Graph) -> Mapped:
    """ONNX's LayerNormalization on a vector; on a feature map see layernorm_channels."""
    x, axis = g.shapes[n.inputs[0]], n.attrs.get("axis", -1)
    if len(x) != 1 or axis not in (-1, 1):
        return Missing(f"`axis` {axis} of a {list(x)} value (cnnc's layernorm normalises a "
                       "vector, or a map's channels between Transposes to channels-last and back)")
    return _norm({"op": "layernorm"}, n, g)


def layernorm_channels(n: Node, g: Graph) -> Mapped:
    """patterns_channels_last.LAYERNORM: LayerNormalization of the channels moved last."""
    return _norm({"op": "layernorm"}, n, g)


def groupnorm(n: Node, g: Graph) -> Mapped:
    """patterns_norm.GROUPNORM: inputs x, then the scale and shift when it has them."""
    op = {"op": "groupnorm", "groups": n.attrs["groups"]}
    if len(n.inputs) == 1:
        return [Entry(op | _eps(n) | {"affine": False}, n.inputs)]
    return _norm(op, n, g)


def group_normalization(n: Node, g: Graph) -> Mapped:
    """ONNX's GroupNormalization: a scale and shift per channel from opset 21, per group before
    (cnnc's per channel: the same where each group is one channel, or where they are the fixed
    ones and zeros of no affine map)."""
    groups, c = int(n.attrs["num_groups"]), g.shapes[n.inputs[0]][0]
    op = {"op": "groupnorm", "groups": groups}
    if g.opset >= 21 or groups == c:
        return _norm(op, n, g)
    params = _affine(n, g, groups)
    if isinstance(params, Missing) or not params:
        return params if params else _norm(op, n, g)
    return Missing(f"a scale and shift per group (opset {g.opset}; cnnc's are per channel, as "
                   "ONNX's from opset 21)")


def instance_norm(n: Node, g: Graph) -> Mapped:
    x = g.shapes[n.inputs[0]]
    if len(x) < 2:
        return Missing(f"a {list(x)} value (cnnc's groupnorm normalises feature maps)")
    return _norm({"op": "groupnorm", "groups": x[0]}, n, g)


def _lrn(n: Node, size: int) -> Mapped:
    op = {"op": "lrn", "size": size}
    for key, name, default in (("alpha", "alpha", 1e-4), ("beta", "beta", 0.75),
                               ("bias", "k", 1.0)):
        value = float(f"{float(np.float32(n.attrs.get(key, default))):.6g}")
        op |= {name: value} if value != default else {}
    return [Entry(op, n.inputs[:1])]


def lrn(n: Node, g: Graph) -> Mapped:
    size = int(n.attrs["size"])
    if size % 2 == 0:
        return Missing(f"an even `size` {size} (ONNX's window is centred differently)")
    return _lrn(n, size)


def lrn_window(n: Node, g: Graph) -> Mapped:
    """patterns_lrn.LRN: PyTorch's window of any size, c - size//2 .. c + (size-1)//2."""
    return _lrn(n, int(n.attrs["size"]))


def mul(n: Node, g: Graph) -> Mapped:
    """A product of computed tensors (mul), or of one by a constant per channel (scale)."""
    fixed = [v for v in n.inputs if g.const(v) is not None]
    if not fixed:
        return [Entry({"op": "mul"}, n.inputs)]
    x = [v for v in n.inputs if v not in fixed]
    w = g.const(fixed[0])
    if len(x) == 1 and len(fixed) == 1 and per_channel(w, g.shapes[x[0]]):
        c = g.shapes[x[0]][0]
        return [Entry({"op": "scale"}, tuple(x), {"weight": w.reshape(c).astype(np.float32)})]
    return Missing(f"a constant operand of shape {list(w.shape)} (cnnc's `mul` merges computed "
                   "tensors, its `scale` multiplies by a weight per channel)")
