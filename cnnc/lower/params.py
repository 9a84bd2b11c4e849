"""The parameters and state of a compiled network as runtime Tensors, with PyTorch's default
initialisation."""

from __future__ import annotations

import math

from cnnc.compiler import Compiled
from cnnc.ir import keys
from cnnc.ops import RULES
from cnnc_runtime.plan import Tensor


def _fan_in(weight: tuple[int, ...]) -> int:
    """PyTorch's fan-in: dim 1 times the kernel size (conv (O, I/g, *K), transposed conv
    (I, O/g, *K), linear (out, in))."""
    return weight[1] * math.prod(weight[2:])


def tensors(c: Compiled) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], tuple[str, ...]]:
    """(learnable parameters, state, all their names interleaved per node), in definition
    order, named `<node id>.<name>`."""
    params, state, order = [], [], []
    for node in c.layers:
        d = c.node(node)
        layer = d[keys.LAYER]
        shapes = d[keys.PARAMS]
        trainable = not layer.attrs.frozen
        for name, shape in shapes.items():
            if RULES[layer.op].family == "norm":  # weight 1, bias 0: the identity affine map
                init, bound = ("ones" if name == "weight" else "zeros"), 0.0
            else:  # kaiming_uniform(a=sqrt(5)) and the bias rule both give 1/sqrt(fan_in)
                init, bound = "uniform", 1 / math.sqrt(_fan_in(shapes["weight"]))
            params.append(Tensor(f"{node}.{name}", shape, init, bound, trainable))
            order.append(params[-1].name)
        for name, shape in d[keys.BUFFERS].items():
            init = "zeros" if name == "running_mean" else "ones"
            state.append(Tensor(f"{node}.{name}", shape, init, 0.0, False))
            order.append(state[-1].name)
    return tuple(params), tuple(state), tuple(order)
