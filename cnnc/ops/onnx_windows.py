"""ONNX emitters of the windowed and resampling ops: convolutions, pools, padding, unpooling,
resizing and cropping (Rule.onnx; the interface is in cnnc/ops/onnx_forms.py)."""

from __future__ import annotations

import math
from typing import Any

from cnnc.ops.base import per_axis
from cnnc.ops.onnx_forms import Emitter, Shape, flat_pads, has_padding, pad_spatial, reduce


def conv(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    k = e.lowered
    x, pads = e.inputs[0], k["padding"]
    if k["padding_mode"] != "zeros" and has_padding(pads):  # Conv pads only with zeros
        x = pad_spatial(e, x, xs[0], pads, k["padding_mode"])
        pads = ((0, 0),) * len(pads)
    weights = [p for p in (e.param("weight"), e.param("bias")) if p is not None]
    e.node("Conv", [x, *weights], e.output, kernel_shape=list(e.param_shape("weight")[2:]),
           strides=list(k["stride"]), dilations=list(k["dilation"]), pads=flat_pads(pads),
           group=k["groups"])


def conv_transpose(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    k = e.lowered
    weights = [p for p in (e.param("weight"), e.param("bias")) if p is not None]
    e.node("ConvTranspose", [e.inputs[0], *weights], e.output,
           kernel_shape=list(e.param_shape("weight")[2:]), strides=list(k["stride"]),
           dilations=list(k["dilation"]), pads=flat_pads([(p, p) for p in k["padding"]]),
           output_padding=list(k["output_padding"]), group=k["groups"])


def _end_pads(e: Emitter, x: Shape) -> tuple[list[tuple[int, int]], bool]:
    """The pool's pads with ceil mode's overhang added after the input, so that floor mode
    gives cnnc's output sizes (PyTorch's ceil rule, which drops a window starting in the right
    padding, is then exact); and whether any overhang was added."""
    k = e.lowered
    pairs, grew = [], False
    dilation = k.get("dilation", (1,) * len(k["kernel"]))  # average pooling has none
    for n, out, kern, s, d, (before, after) in zip(x[1:], k["out"], k["kernel"], k["stride"],
                                                    dilation, k["padding"]):
        need = max(after, (out - 1) * s + d * (kern - 1) + 1 - n - before)
        # ceil mode's last window starts inside the input or its left padding, so the pad stays
        # narrower than the window, as ONNX runtimes require
        assert need < d * (kern - 1) + 1
        grew |= need > after
        pairs.append((before, need))
    return pairs, grew


def maxpool(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    k = e.lowered
    pairs, _ = _end_pads(e, xs[0])
    indices = e.extra("indices")
    flat = [f"{e.output}/flat_indices"] if indices is not None else []
    e.node("MaxPool", [e.inputs[0]], e.output, extra_outputs=flat, storage_order=0,
           kernel_shape=list(k["kernel"]), strides=list(k["stride"]),
           dilations=list(k["dilation"]), pads=flat_pads(pairs))
    if indices is not None:  # ONNX flattens over the whole tensor, cnnc per (n, c) plane
        e.node("Mod", [flat[0], e.ints([math.prod(xs[0][1:])])], indices)


def avgpool(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    k = e.lowered
    pairs, overhang = _end_pads(e, xs[0])
    x, include = e.inputs[0], k["count_include_pad"]
    if overhang and include:
        # the padding counts in the average, ceil mode's overhang does not (PyTorch): pad
        # first, so that only the overhang is left for AveragePool to leave out
        x = pad_spatial(e, x, xs[0], k["padding"], "zeros")
        pairs = [(0, after - given) for (_, after), (_, given) in zip(pairs, k["padding"])]
        include = False
    e.node("AveragePool", [x], e.output, kernel_shape=list(k["kernel"]),
           strides=list(k["stride"]), pads=flat_pads(pairs), count_include_pad=int(include))


def _bins(n: int, m: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins [floor(i*n/m), ceil((i+1)*n/m)) of n positions into m."""
    return [(i * n // m, -(-(i + 1) * n // m)) for i in range(m)]


def adaptive_avgpool(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    sizes, outs = xs[0][1:], y[1:]
    if all(n % m == 0 for n, m in zip(sizes, outs)):  # equal bins: a plain pooling
        kernel = [n // m for n, m in zip(sizes, outs)]
        e.node("AveragePool", [e.inputs[0]], e.output, kernel_shape=kernel, strides=kernel)
        return
    # Unequal bins: the mean over a box is separable, one (n, m) averaging matrix per axis.
    x, rank = e.inputs[0], len(xs[0]) + 1
    for i, (n, m) in enumerate(zip(sizes, outs)):
        axis = 2 + i
        matrix = [0.0] * (n * m)
        for j, (lo, hi) in enumerate(_bins(n, m)):
            for r in range(lo, hi):
                matrix[r * m + j] = 1.0 / (hi - lo)
        perm = list(range(rank))
        perm[axis], perm[-1] = perm[-1], perm[axis]
        last = i == len(sizes) - 1
        moved = e.node("Transpose", [x], perm=perm) if axis != rank - 1 else x
        product = e.node("MatMul", [moved, e.floats(matrix, (n, m))],
                         e.output if last and axis == rank - 1 else None)
        x = e.node("Transpose", [product], e.output if last else None, perm=perm) \
            if axis != rank - 1 else product


def adaptive_maxpool(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    sizes, outs = xs[0][1:], y[1:]
    if all(n % m == 0 for n, m in zip(sizes, outs)):
        kernel = [n // m for n, m in zip(sizes, outs)]
        e.node("MaxPool", [e.inputs[0]], e.output, kernel_shape=kernel, strides=kernel)
        return
    # The max over a box is the max over each axis in turn: per output position one bin sliced
    # and reduced, the bins concatenated back along the axis.
    x = e.inputs[0]
    for i, (n, m) in enumerate(zip(sizes, outs)):
        axis = 2 + i
        last = i == len(sizes) - 1
        parts = [reduce(e, "ReduceMax", e.node("Slice", [x, e.ints([lo]), e.ints([hi]),
                                                         e.ints([axis])]), [axis])
                 for lo, hi in _bins(n, m)]
        x = e.node("Concat", parts, e.output if last else None, axis=axis)


def pad(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    k = e.lowered
    pad_spatial(e, e.inputs[0], xs[0], k["padding"], k["mode"], k["value"], e.output)


def maxunpool(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    """cnnc's indices count within each (n, c) plane, ONNX's over the whole output tensor:
    add (n*C + c) * plane before MaxUnpool. onnxruntime unpools to no size under the default
    `(n - 1)*stride - 2*padding + kernel`, which a ceil-mode pool's input can be (SegNet's 23
    from 12): there the values go into a plane as large as both, the indices moved into it,
    and a Slice cuts the output out. ONNX's shape inference gives MaxUnpool no shape when its
    output size is computed (the batch is symbolic), so none to any layer after it: a Reshape to
    (batch, *y), which changes nothing, restores it."""
    x, indices = e.inputs[0], e.inputs[1]
    axes = len(y) - 1
    kernel = list(per_axis(a.kernel, axes, "kernel"))
    stride = kernel if a.stride is None else list(per_axis(a.stride, axes, "stride"))
    padding = list(per_axis(a.padding, axes, "padding"))
    default = [(n - 1) * s - 2 * p + k for n, k, s, p in zip(xs[0][1:], kernel, stride, padding)]
    size, big = list(y[1:]), [max(d, n) for d, n in zip(default, y[1:])]
    if big != size:
        indices = replane(e, indices, size, big)
    c, plane, rank = y[0], math.prod(big), len(y) + 1
    n = e.node("Shape", [x], start=0, end=1)
    planes = e.node("Range", [e.ints([0]), e.node("Mul", [n, e.ints([c])]), e.ints([1])])
    start = e.node("Reshape", [e.node("Mul", [planes, e.ints([plane])]),
                               e.ints([-1, c] + [1] * (rank - 2))])  # (N, C, 1, ...)
    whole = e.node("Add", [indices, start])
    shape = e.node("Concat", [e.node("Shape", [x], start=0, end=2), e.ints(big)], axis=0)
    out = e.node("MaxUnpool", [x, whole, shape], kernel_shape=kernel, strides=stride,
                 pads=padding + padding)
    if big != size:
        out = e.node("Slice", [out, e.ints([0] * axes), e.ints(size), e.ints(list(range(2, rank)))])
    e.node("Reshape", [out, e.ints([0, *y])], e.output)  # 0: the batch axis as it is


def replane(e: Emitter, indices: str, size: list[int], big: list[int]) -> str:
    """Flat indices within a plane of `size` moved to the same cells of a plane of `big`: each
    coordinate taken out (divide by the axes after it, modulo its own) and put back."""
    moved = None
    for axis in range(len(size)):
        coord = e.node("Div", [indices, e.ints([math.prod(size[axis + 1:])])])
        if axis > 0:
            coord = e.node("Mod", [coord, e.ints([size[axis]])])
        part = e.node("Mul", [coord, e.ints([math.prod(big[axis + 1:])])])
        moved = part if moved is None else e.node("Add", [moved, part])
    return moved


def upsample(a: Any, xs: tuple[Shape, ...], y: Shape, e: Emitter) -> None:
    """Resize with PyTorch's coordinate maps: nearest is `asymmetric` + `floor`, (bi/tri)linear
    `align_corners` or `pytorch_half_pixel`. A given scale maps outputs back by 1/scale, as
    PyTorch does, so it goes in as `scales`; otherwise the output size goes in as `sizes`."""
    k = e.lowered
    x = e.inputs[0]
    if k["mode"] == "nearest":
        how = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
               "nearest_mode": "floor"}
    else:
        how = {"mode": "linear", "coordinate_transformation_mode":
               "align_corners" if k["align_corners"] else "pytorch_half_pixel"}
    if k["scale"] is not None and not (k["mode"] == "linear" and k["align_corners"]):
        e.node("Resize", [x, "", e.floats([1.0, 1.0, *k["scale"]], (len(y) + 1,))], e.output,
               **how)
        return
    sizes = e.node("Concat", [e.node("Shape", [x], start=0, end=2), e.ints(list(y[1:]))],
                   axis=0)
    e.node("Resize", [x, "", "", sizes], e.output, **how)
