"""The parameters and state of a compiled network as runtime Tensors, initialised as each op's
rule states (PyTorch's defaults unless the op says otherwise)."""

from __future__ import annotations

import math

from cnnc.compiled import CompiledData
from cnnc.ir import keys
from cnnc.ops import RULES
from cnnc.ops.base import UNIFORM
from cnnc_runtime.plan import Tensor


def _fan_in(weight: tuple[int, ...]) -> int:
    """PyTorch's fan-in: dim 1 times the kernel size (conv (O, I/g, *K), transposed conv
    (I, O/g, *K), linear (out, in))."""
    return weight[1] * math.prod(weight[2:])


def tensors(c: CompiledData) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], tuple[str, ...]]:
    """(learnable parameters, state, all their names interleaved per node), in definition
    order, named `<node id>.<name>`."""
    params, state, order = [], [], []
    for node in c.layers:
        d = c.node(node)
        layer = d[keys.LAYER]
        shapes = d[keys.PARAMS]
        trainable = not layer.attrs.frozen
        inits = RULES[layer.op].init(layer.attrs)
        for name, shape in shapes.items():
            init = inits.get(name, UNIFORM)
            if init.kind == "constant":
                t = Tensor(f"{node}.{name}", shape, "constant", value=init.value,
                           trainable=trainable)
            else:  # kaiming_uniform(a=sqrt(5)) and the bias rule both give 1/sqrt(fan_in)
                bound = 1 / math.sqrt(_fan_in(shapes["weight"]))
                t = Tensor(f"{node}.{name}", shape, "uniform", bound, trainable)
            params.append(t)
            order.append(params[-1].name)
        for name, shape in d[keys.BUFFERS].items():
            value = 0.0 if name == "running_mean" else 1.0
            state.append(Tensor(f"{node}.{name}", shape, "constant", value=value,
                                trainable=False))
            order.append(state[-1].name)
    return tuple(params), tuple(state), tuple(order)
