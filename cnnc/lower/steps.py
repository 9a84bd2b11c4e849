"""Turn graph nodes and fused chains into runtime Steps, for training or for inference."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cnnc.compiled import CompiledData
from cnnc.ir import keys
from cnnc.ir.build import extra_reads
from cnnc.lower.fuse import Fusion
from cnnc.ops import RULES
from cnnc_runtime.plan import Fold, Step, Transform


def kernel_attrs(c: CompiledData, node: str, device: str = "cpu") -> dict[str, Any]:
    """The kernel's attributes of a node; where the op computes in more than one way
    (`Rule.algorithm`), they also name the way chosen on `device`."""
    layer = c.node(node)[keys.LAYER]
    rule = RULES[layer.op]
    attrs = rule.lower(layer.attrs, c.node(node)[keys.INPUT_SHAPES], c.node(node)[keys.SHAPE])
    if rule.algorithm is not None:
        attrs["algorithm"] = rule.algorithm(attrs, c.node(node)[keys.PARAMS]["weight"],
                                            c.node(node)[keys.SHAPE], device)
    return attrs


def algorithm_attrs(step: Step) -> dict[str, Any] | None:
    """The attributes that name a step's algorithm: its own, or those of the fused part that
    has one; None where it computes in one way only."""
    for attrs in (step.attrs, *step.attrs.values()):
        if isinstance(attrs, dict) and "algorithm" in attrs:
            return attrs
    return None


def winograd_weight(step: Step) -> tuple[Step, Transform | None]:
    """An inference step whose conv runs Winograd reads its filters transformed once per
    weight change (`winograd`, in place of `weight`), not at every call; with the Transform
    that makes them."""
    conv_attrs = algorithm_attrs(step)
    if conv_attrs is None or conv_attrs["algorithm"] != "winograd":
        return step, None
    t = Transform("winograd", step.params["weight"], step.params["weight"] + ":winograd")
    params = {k: v for k, v in step.params.items() if k != "weight"} | {"winograd": t.into}
    return replace(step, params=params), t


def _own_tensors(c: CompiledData, node: str, prefix: str = "") -> dict[str, str]:
    d = c.node(node)
    return {prefix + name: f"{node}.{name}" for name in (*d[keys.PARAMS], *d[keys.BUFFERS])}


def single_step(c: CompiledData, node: str, device: str) -> Step:
    layer = c.node(node)[keys.LAYER]
    sizes = RULES[layer.op].size_inputs  # the kernel has their sizes in its attributes
    inputs = tuple(v for port, v in enumerate(layer.inputs) if port not in sizes)
    return Step(node, layer.op, inputs, kernel_attrs(c, node, device),
                _own_tensors(c, node), (node,), c.node(node)[keys.SHAPE],
                extra_reads(c.graph, node))


def _parts(c: CompiledData, nodes: tuple[str, ...], parts: tuple[str | None, ...],
           device: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The fused step's attributes and tensors, keyed by the part each member plays."""
    attrs, params = {}, _own_tensors(c, nodes[0])
    for k, (node, part) in enumerate(zip(nodes, parts)):
        if part is not None:
            attrs[part] = kernel_attrs(c, node, device)
            if k:
                params |= _own_tensors(c, node, prefix=part + ".")
    return attrs, params


def fused_step(c: CompiledData, f: Fusion, device: str) -> Step:
    """Training form: one kernel that computes the whole chain. Attributes are keyed by the
    part they belong to (`conv`, `bn`), and so are the later members' tensors (`bn.weight`)."""
    attrs, params = _parts(c, f.nodes, f.pattern.parts, device)
    return Step(f.nodes[-1], f.op, c.node(f.nodes[0])[keys.LAYER].inputs, attrs, params,
                f.nodes, c.node(f.nodes[-1])[keys.SHAPE])


def folded_step(c: CompiledData, f: Fusion, device: str) -> tuple[Step, Fold | None]:
    """Inference form: BatchNorm folded into the conv's weight and bias, leaving a conv or a
    conv + ReLU step over the folded tensors."""
    folded = f.pattern.folded
    if folded is None:
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
    rest = (conv, *f.nodes[2:])  # the chain without its batchnorm
    if folded in RULES:  # one op's kernel: its attributes are the conv's own
        attrs = kernel_attrs(c, conv, device)
    else:
        attrs = _parts(c, rest, (f.pattern.parts[0], *f.pattern.parts[2:]), device)[0]
    last = f.nodes[-1]
    return Step(last, folded, c.node(conv)[keys.LAYER].inputs, attrs, params, f.nodes,
                c.node(last)[keys.SHAPE]), fold
