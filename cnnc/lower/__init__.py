"""Lowering: a compiled graph becomes a `cnnc_runtime.plan.Plan` (fused steps, parameters with their
initialisation, buffer lifetimes per mode)."""

from __future__ import annotations

from dataclasses import replace

from cnnc.compiled import CompiledData
from cnnc.ir import keys
from cnnc.lower.fuse import Fusion, find_fusions
from cnnc.lower.params import tensors
from cnnc.lower.schedule import schedule
from cnnc.lower.steps import folded_step, fused_step, single_step, winograd_weight
from cnnc_runtime.plan import Plan, Step


def lower(c: CompiledData, fuse: bool = True, device: str = "cpu") -> Plan:
    """The Plan of a compiled network for `device` ("cpu" or "gpu": it chooses each conv's
    algorithm); `fuse=False` keeps one step per layer (for checks)."""
    fusions = find_fusions(c.graph, c.order, c.outputs) if fuse else []
    by_last = {f.nodes[-1]: f for f in fusions}
    inner = {n for f in fusions for n in f.nodes[:-1]}
    train, infer, folds, transforms = [], [], [], []
    for node in c.layers:
        if node in inner:
            continue
        training_only = c.node(node)[keys.TRAINING_ONLY]
        if node in by_last:
            train.append(fused_step(c, by_last[node], device))
            step, fold = folded_step(c, by_last[node], device)
            folds += [fold] if fold and not training_only else []
        else:
            step = single_step(c, node, device)
            train.append(step)
        if not training_only:
            step, transform = winograd_weight(step)
            transforms += [transform] if transform else []
            infer.append(step)
    infer_outputs = tuple(o for o in c.outputs if not c.node(o)[keys.TRAINING_ONLY])
    params, state, order = tensors(c)
    return Plan(c.name, c.input_shape, params, state,
                training=schedule(train, c.outputs, c.input_shape, training=True),
                inference=schedule(_read_outputs(infer), infer_outputs, c.input_shape,
                                   training=False),
                folds=tuple(folds), transforms=tuple(transforms), tensor_order=order,
                shapes={n: c.node(n)[keys.SHAPE] for n in c.order})


def _read_outputs(steps: list[Step]) -> list[Step]:
    """The steps, each writing only the extra outputs that one of them reads: inference leaves
    out training-only readers of `pool1.indices`, and then the pooling need not make them."""
    read = {name for s in steps for name in s.inputs}
    return [replace(s, outputs=tuple(o for o in s.outputs if f"{s.id}.{o}" in read))
            for s in steps]


__all__ = ["Fusion", "Plan", "Step", "lower"]
