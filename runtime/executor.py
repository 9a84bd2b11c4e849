"""Run a Schedule forward, keeping what backward needs, and backward in reverse order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from cnnc_runtime import shards
from cnnc_runtime.plan import Schedule


@dataclass
class Tape:
    """What one training forward pass left for backward: each step's saved values."""

    saved: list[Any] = field(default_factory=list)


def forward(xp: ModuleType, sched: Schedule, kernels: Mapping[str, ModuleType], x: Any,
            tensors: Mapping[str, Any], training: bool, rng: Any = None) -> tuple[dict, Tape | None]:
    """The schedule's outputs by name, and in training the tape for `backward`.

    Each value is dropped after its last reader, so only outputs and saved state stay alive.
    """
    values = {"input": x}
    tape = Tape() if training else None
    for step, frees in zip(sched.steps, sched.frees):
        kernel = kernels[step.op]
        params = {local: tensors[name] for local, name in step.params.items()}
        extra = {"rng": rng} if getattr(kernel, "USES_RNG", False) else {}
        if step.outputs:
            extra["outputs"] = step.outputs
        y, saved = shards.forward(kernel, xp, [values[n] for n in step.inputs], params,
                                  step.attrs, training, **extra)
        if step.outputs:  # (output, *extras): indices, read by later steps, get no gradient
            y, *extras = y
            values.update(zip((f"{step.id}.{o}" for o in step.outputs), extras))
        values[step.id] = y
        if tape is not None:
            tape.saved.append(saved)
        for name in frees:
            del values[name]
    return {name: values[name] for name in sched.outputs}, tape


def backward(xp: ModuleType, sched: Schedule, kernels: Mapping[str, ModuleType], tape: Tape,
             douts: Mapping[str, Any], tensors: Mapping[str, Any],
             input_grad: bool = True,
             on_grad: Callable[[str, Any], None] | None = None) -> tuple[dict, Any]:
    """Gradients of every tensor the steps read (by Tensor name) and of the input.

    `douts` gives the gradient of some outputs; a step whose output gets no gradient (an
    auxiliary head left out of the loss) is skipped and its parameters get zeros. Gradients
    reaching one value from several readers add up. Without `input_grad` the input's gradient
    is None, and kernels that can (SKIPS_DX) leave it uncomputed: for a first conv that is
    most of its backward pass. `on_grad(name, grad)` hears each parameter's gradient as soon
    as its step is done (it is final then: one step owns each parameter), so distributed
    training can send it while earlier steps still compute (runtime/distributed.py).
    """
    grads: dict[str, Any] = dict(douts)
    dtensors: dict[str, Any] = {}
    for step, saved in zip(reversed(sched.steps), reversed(tape.saved)):
        dy = grads.pop(step.id, None)
        if dy is None:
            continue
        params = {local: tensors[name] for local, name in step.params.items()}
        kernel = kernels[step.op]
        extra = {}
        if getattr(kernel, "SKIPS_DX", False):
            extra["need_dx"] = input_grad or tuple(step.inputs) != ("input",)
        dinputs, dparams = shards.backward(kernel, xp, dy, saved, params, step.attrs, **extra)
        for name, dx in zip(step.inputs, dinputs):
            if dx is not None and (input_grad or name != "input"):
                grads[name] = grads[name] + dx if name in grads else dx
        for local, dp in dparams.items():
            dtensors[step.params[local]] = dp
            if on_grad is not None:
                on_grad(step.params[local], dp)
    return dtensors, grads.get("input")

