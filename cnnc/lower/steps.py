"""Turn graph nodes and fused chains into runtime Steps, for training or for inference."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cnnc.compiler import Compiled
from cnnc.ir import keys
from cnnc.ir.build import extra_reads, value_shape
from cnnc.lower.algorithm import conv_algorithm
from cnnc.lower.fuse import Fusion
from cnnc.ops import RULES
from cnnc_runtime.plan import Fold, Step, Transform


def kernel_attrs(c: Compiled, node: str, device: str = "cpu") -> dict[str, Any]:
    """The kernel's attributes of a node; a conv's also name its algorithm on `device`."""
    layer = c.node(node)[keys.LAYER]
    xs = tuple(value_shape(c.graph, p) for p in layer.inputs)
    attrs = RULES[layer.op].lower(layer.attrs, xs, c.node(node)[keys.SHAPE])
    if layer.op == "conv":
        attrs["algorithm"] = conv_algorithm(attrs, c.node(node)[keys.PARAMS]["weight"],
                                            c.node(node)[keys.SHAPE], device)
    return attrs


def winograd_weight(step: Step) -> tuple[Step, Transform | None]:
    """An inference step whose conv runs Winograd reads its filters transformed once per
    weight change (`winograd`, in place of `weight`), not at every call; with the Transform
    that makes them."""
    conv_attrs = step.attrs.get("conv", step.attrs)
    if conv_attrs.get("algorithm") != "winograd":
        return step, None
    t = Transform("winograd", step.params["weight"], step.params["weight"] + ":winograd")
    params = {k: v for k, v in step.params.items() if k != "weight"} | {"winograd": t.into}
    return replace(step, params=params), t


def _own_tensors(c: Compiled, node: str, prefix: str = "") -> dict[str, str]:
    d = c.node(node)
    return {prefix + name: f"{node}.{name}" for name in (*d[keys.PARAMS], *d[keys.BUFFERS])}


def single_step(c: Compiled, node: str, device: str) -> Step:
    layer = c.node(node)[keys.LAYER]
    return Step(node, layer.op, layer.inputs, kernel_attrs(c, node, device),
                _own_tensors(c, node), (node,), c.node(node)[keys.SHAPE],
                extra_reads(c.graph, node))


def fused_step(c: Compiled, f: Fusion, device: str) -> Step:
    """Training form: one kernel that computes the whole chain. Attributes are keyed by the
    part they belong to (`conv`, `bn`), and so are the BatchNorm tensors (`bn.weight`)."""
    first, last = f.nodes[0], f.nodes[-1]
    attrs = {"conv": kernel_attrs(c, first, device)} if f.op.startswith("conv") else {}
    params = _own_tensors(c, first)
    if "bn" in f.op:
        attrs["bn"] = kernel_attrs(c, f.nodes[1])
        params |= _own_tensors(c, f.nodes[1], prefix="bn.")
    return Step(last, f.op, c.node(first)[keys.LAYER].inputs, attrs, params, f.nodes,
                c.node(last)[keys.SHAPE])


def folded_step(c: Compiled, f: Fusion, device: str) -> tuple[Step, Fold | None]:
    """Inference form: BatchNorm folded into the conv's weight and bias, leaving a conv or a
    conv + ReLU step over the folded tensors."""
    if "bn" not in f.op:
        return fused_step(c, f, device), None
    conv, bn = f.nodes[0], f.nodes[1]
    own, bn_own = c.node(conv)[keys.PARAMS], c.node(bn)[keys.PARAMS]
    fold = Fold(weight=f"{conv}.weight", bias=f"{conv}.bias" if "bias" in own else None,
                bn_weight=f"{bn}.weight" if "weight" in bn_own else None,
                bn_bias=f"{bn}.bias" if "bias" in bn_own else None,
                running_mean=f"{bn}.running_mean", running_var=f"{bn}.running_var",
                eps=kernel_attrs(c, bn)["eps"],
                into_weight=f"{conv}.weight:folded", into_bias=f"{conv}.bias:folded")
    params = {"weight": fold.into_weight, "bias": fold.into_bias}
    op, attrs = ("conv_relu", {"conv": kernel_attrs(c, conv, device)}) \
        if f.op == "conv_bn_relu" else ("conv", kernel_attrs(c, conv, device))
    last = f.nodes[-1]
    return Step(last, op, c.node(conv)[keys.LAYER].inputs, attrs, params, f.nodes,
                c.node(last)[keys.SHAPE]), fold
