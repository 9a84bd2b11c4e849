"""A network ready to run: a Plan with its parameters and state on an array module.

    model = Model(plan)                      # PyTorch's default initialisation, seeded
    y = model.forward(x, training=True)      # (N, *plan.input_shape) -> first output
    loss, dy = softmax_cross_entropy(np, y, labels)
    grads = model.backward(dy)               # {"conv1.weight": dw, ...}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import numpy

from cnnc_runtime import executor
from cnnc_runtime.device import to_host
from cnnc_runtime.fold import fold, transform
from cnnc_runtime.host_memory import keep_freed_memory
from cnnc_runtime.kernels import KERNELS
from cnnc_runtime.memory_check import check_params
from cnnc_runtime.plan import Plan, Tensor


class Model:
    """Parameters, state and the two schedules of a Plan.

    Parameters and state are arrays of `dtype` on `xp`, by Tensor name. Write them through
    `set` (or `load`) so the folded inference weights are recomputed; an optimizer that updates
    `params` in place calls `changed()`. A model on NumPy makes the process keep freed memory
    for reuse (runtime/host_memory.py). A plan whose parameters cannot fit in the memory
    available raises MemoryLimitError before anything is allocated.
    """

    def __init__(self, plan: Plan, xp: ModuleType = numpy, dtype: Any = "float32",
                 seed: int = 0, network: Any = None) -> None:
        self.plan, self.xp, self.dtype = plan, xp, xp.dtype(dtype)
        # the compiled network the plan was lowered from (cnnc.build_model gives it), which
        # to_onnx exports: the runtime calls it, never imports the compiler
        self.network = network
        if xp is numpy:
            keep_freed_memory()
        self.rng = xp.random.default_rng(seed)
        self.draws = any(getattr(KERNELS[s.op], "USES_RNG", False) for s in plan.training.steps)
        check_params(plan, xp, self.dtype.itemsize)  # before the first array is made
        init_rng = numpy.random.default_rng(seed)
        self.params = {t.name: self._init(t, init_rng) for t in plan.params}
        self.state = {t.name: self._init(t, init_rng) for t in plan.state}
        self.outputs: dict[str, Any] = {}
        self.input_grad: Any = None
        self._tape: executor.Tape | None = None
        self._folded: dict[str, Any] | None = None

    def _init(self, t: Tensor, rng: numpy.random.Generator) -> Any:
        if t.init == "uniform":
            values = rng.uniform(-t.bound, t.bound, t.shape)
        elif t.init == "constant":
            values = numpy.full(t.shape, t.value)
        else:
            raise ValueError(f"'{t.name}': unknown initialisation '{t.init}' (uniform, constant)")
        return self.xp.asarray(values, dtype=self.dtype)

    @property
    def trainable(self) -> list[str]:
        """Names of the parameters an optimizer updates (frozen layers left out)."""
        return [t.name for t in self.plan.params if t.trainable]

    def tensors(self) -> dict[str, Any]:
        """Parameters and state together, in definition order: what a checkpoint holds."""
        return self.params | self.state

    def set(self, name: str, value: Any) -> None:
        """Replace one parameter or state tensor (copied: training updates it in place),
        checking its shape."""
        store = self.params if name in self.params else self.state
        if name not in store:
            raise KeyError(f"'{name}' is not a parameter or state tensor of '{self.plan.name}'")
        value = self.xp.array(value, dtype=self.dtype, copy=True)
        if value.shape != store[name].shape:
            raise ValueError(f"'{name}' has shape {store[name].shape}, got {value.shape}")
        store[name] = value
        self.changed()

    def load(self, tensors: Mapping[str, Any]) -> None:
        for name, value in tensors.items():
            self.set(name, value)

    def reseed(self, *seeds: Any) -> None:
        """A fresh generator for dropout from a seed (an int or a list of them), or one per
        shard from several (runtime/shards.py); made only when the training plan draws: on a
        GPU a generator is megabytes of cuRAND state."""
        if self.draws:
            rngs = [self.xp.random.default_rng(seed) for seed in seeds]
            self.rng = rngs[0] if len(rngs) == 1 else rngs

    def changed(self) -> None:
        """Parameters or state changed in place: refold the inference weights on next use."""
        self._folded = None

    def forward(self, x: Any, training: bool = False) -> Any:
        """Run a batch (N, *input_shape) and return the first output; every output is in
        `self.outputs`. Training uses batch statistics, dropout and the auxiliary heads, and
        keeps what `backward` needs."""
        x = self.xp.asarray(x, dtype=self.dtype)
        want = tuple(self.plan.input_shape)
        if x.shape[1:] != want:
            raise ValueError(f"'{self.plan.name}' takes inputs (N, {', '.join(map(str, want))}),"
                             f" got {tuple(x.shape)}")
        if training:
            self.changed()  # batch statistics move the running averages
            sched, tensors = self.plan.training, self.tensors()
        else:
            sched, tensors = self.plan.inference, self.tensors() | self._fold()
        self.outputs, self._tape = executor.forward(self.xp, sched, KERNELS, x, tensors,
                                                    training, self.rng)
        return self.outputs[sched.outputs[0]]

    def backward(self, dy: Any, input_grad: bool = False,
                 on_grad: Callable[[str, Any], None] | None = None) -> dict[str, Any]:
        """Gradients of every parameter from the gradient of the first output (or a dict of
        output name -> gradient), after a training forward. With `input_grad` the input's
        gradient is left in `input_grad` (otherwise None: training does not need it, and a
        first conv then skips most of its backward pass). `on_grad(name, grad)` hears each
        gradient as soon as it is final (executor.backward)."""
        if self._tape is None:
            raise RuntimeError("backward needs a forward pass with training=True first")
        douts = dy if isinstance(dy, Mapping) else {self.plan.training.outputs[0]: dy}
        grads, self.input_grad = executor.backward(self.xp, self.plan.training, KERNELS,
                                                   self._tape, douts, self.tensors(),
                                                   input_grad, on_grad)
        self._tape = None
        return {name: grads[name] if name in grads else self.xp.zeros_like(value)
                for name, value in self.params.items()}

    def _fold(self) -> dict[str, Any]:
        """The inference-only tensors: folded BatchNorms, then transformed weights; a folded
        weight that only feeds a transform is not kept."""
        if self._folded is None:
            tensors = self.tensors()
            folded = fold(self.xp, self.plan.folds, tensors)
            derived = folded | transform(self.xp, self.plan.transforms, tensors | folded)
            read = {name for s in self.plan.inference.steps for name in s.params.values()}
            self._folded = {k: v for k, v in derived.items() if k in read}
        return self._folded

    def to_onnx(self, **options: Any) -> Any:
        """The ONNX model of this network with its current parameters and state, as `cnnc
        export` writes it; `options` as Compiled.to_onnx's (opset, fold_bn, training_heads)."""
        if self.network is None:
            raise ValueError(f"'{self.plan.name}' was built from a plan alone, which ONNX export "
                             "cannot read: build it with cnnc.build_model, or call "
                             "compiled.to_onnx(weights=model.tensors())")
        weights = {name: to_host(value) for name, value in self.tensors().items()}
        return self.network.to_onnx(weights=weights, **options)

    def num_params(self) -> int:
        return sum(math.prod(t.shape) for t in self.plan.params)
