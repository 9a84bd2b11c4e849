"""Optimizers: SGD (momentum, Nesterov), Adam and AdamW, step for step as torch.optim 2.x.

    opt = make_optimizer("sgd", model.params, model.trainable, numpy, momentum=0.9)
    opt.step(model.backward(dy), lr=schedule.lr(step))  # updates model.params[name] in place
    model.changed()

Each update repeats the operations of PyTorch's single-tensor code path (`_single_tensor_sgd`,
`_single_tensor_adam`) in the same order and in the parameters' dtype, so float64 runs agree
with PyTorch to rounding. The state of all parameters (momentum, moments) lives in one flat
buffer per kind with a view per parameter: the elementwise work then takes a few calls over the
whole model instead of a few per tensor. resnet20 has 65 tensors, many of 16 values, where the
cost of a call (Python, or a kernel launch under CuPy) would outweigh its arithmetic; only
copying each gradient in and subtracting each update stay per tensor.
"""

from __future__ import annotations

import difflib
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

KINDS = ("sgd", "adam", "adamw")


class OptimError(ValueError):
    """Bad optimizer settings, or a saved optimizer state that does not fit this optimizer."""


class Optimizer(ABC):
    """The parameters `names` of `params`, updated in place, and their state in flat buffers.

    `params` is read at every step, so a parameter the model replaces (Model.set) is followed.
    Subclasses name their per-parameter state in `slots` and compute the update in `_update`.
    Weight decay is L2 (added to the gradient) unless `decoupled` (AdamW's shrinking of the
    parameter before the update).
    """

    kind = ""
    slots: tuple[str, ...] = ()

    def __init__(self, params: dict[str, Any], names: list[str], xp: Any, weight_decay: float,
                 decoupled: bool = False) -> None:
        self.params, self.names, self.xp = params, list(names), xp
        self._l2, self._shrink = (0.0, weight_decay) if decoupled else (weight_decay, 0.0)
        self.steps = 0  # optimizer steps taken; restored by load_state_dict
        dtype = params[self.names[0]].dtype
        sizes = [params[n].size for n in self.names]
        total = sum(sizes)
        # This step's gradients (with L2 decay added) and a scratch buffer for the update.
        self._grad, self._work = xp.empty(total, dtype), xp.empty(total, dtype)
        self.state = {slot: xp.zeros(total, dtype) for slot in self.slots}
        starts = [0]
        for size in sizes:
            starts.append(starts[-1] + size)
        self._spans = [(start, start + size, params[n].shape)
                       for n, start, size in zip(self.names, starts, sizes)]
        self._grad_views, self._work_views = self._views(self._grad), self._views(self._work)

    def _views(self, flat: Any) -> list[Any]:
        return [flat[begin:end].reshape(shape) for begin, end, shape in self._spans]

    def step(self, grads: Mapping[str, Any], lr: float) -> None:
        """Update every parameter in place from `grads` (name -> array of its shape) with
        learning rate `lr`; the gradient arrays are left as they are."""
        xp = self.xp
        for name, g in zip(self.names, self._grad_views):
            if self._l2:
                xp.multiply(self.params[name], self._l2, out=g)  # grad + decay * param, as torch
                g += grads[name]
            else:
                xp.copyto(g, grads[name])
        self.steps += 1
        self._update(lr)
        for name, u in zip(self.names, self._work_views):
            p = self.params[name]
            if self._shrink:
                p *= 1 - lr * self._shrink  # decoupled decay comes before the update
            p -= u

    @abstractmethod
    def _update(self, lr: float) -> None:
        """Write the flat amount to subtract from the parameters into `_work`, from `_grad`."""

    def state_dict(self) -> dict[str, Any]:
        """The state as flat name -> array for a checkpoint: "optim.step" (0-d int64) and
        "optim.<param>.<slot>" in the parameters' dtype. These are views of the live state:
        save them before the next step."""
        out = {"optim.step": self.xp.asarray(self.steps, dtype=self.xp.int64)}
        views = {slot: self._views(flat) for slot, flat in self.state.items()}
        for i, name in enumerate(self.names):
            out |= {f"optim.{name}.{slot}": views[slot][i] for slot in self.slots}
        return out

    def load_state_dict(self, tensors: Mapping[str, Any]) -> None:
        """Restore the state written by `state_dict` exactly (values cast to the parameters'
        dtype). Other keys are ignored unless they start with "optim."; OptimError names the
        first missing, misshapen or unexpected tensor, and then nothing has changed."""
        expected = self.state_dict()
        for key, mine in expected.items():
            if key not in tensors:
                raise OptimError(f"optimizer state: '{key}' is missing; {self._origin()}")
            found = tensors[key]
            if key == "optim.step":
                if found.size != 1 or found.dtype.kind not in "iu" or int(found.ravel()[0]) < 0:
                    raise OptimError(f"optimizer state: '{key}' must be one non-negative "
                                     f"integer, got {found.dtype} of shape {tuple(found.shape)}")
            elif tuple(found.shape) != mine.shape:
                raise OptimError(f"optimizer state: '{key}' has shape {tuple(found.shape)}, "
                                 f"expected {mine.shape}; {self._origin()}")
        for key in tensors:
            if key.startswith("optim.") and key not in expected:
                raise OptimError(f"optimizer state: unexpected '{key}'; {self._origin()}")
        for key, mine in expected.items():
            if key != "optim.step":
                self.xp.copyto(mine, self.xp.asarray(tensors[key]))
        self.steps = int(tensors["optim.step"].ravel()[0])

    def _origin(self) -> str:
        slots = ", ".join(self.slots) or "no state"
        return (f"the checkpoint comes from another optimizer or model (this {self.kind} keeps "
                f"{slots} for {len(self.names)} parameters): resume with the same optimizer "
                "settings and spec")


class SGD(Optimizer):
    """Stochastic gradient descent: torch.optim.SGD with dampening 0.

    buf = g on the first step, else momentum * buf + g; the step is lr * buf, or
    lr * (g + momentum * buf) with Nesterov, or lr * g without momentum. Weight decay is L2:
    g = grad + weight_decay * param.
    """

    kind = "sgd"

    def __init__(self, params: dict[str, Any], names: list[str], xp: Any, *, momentum: float,
                 nesterov: bool, weight_decay: float) -> None:
        self.slots = ("momentum",) if momentum else ()
        super().__init__(params, names, xp, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, lr: float) -> None:
        xp, g, work = self.xp, self._grad, self._work
        direction = g
        if self.momentum:
            buf = self.state["momentum"]
            buf *= self.momentum  # from zero, so the first buffer is the gradient, as PyTorch's
            buf += g
            if self.nesterov:
                xp.multiply(buf, self.momentum, out=work)
                work += g
                direction = work
            else:
                direction = buf
        xp.multiply(direction, lr, out=work)


class Adam(Optimizer):
    """Adam (torch.optim.Adam), or AdamW with decoupled weight decay (torch.optim.AdamW).

    m += (1 - beta1) * (g - m); v = beta2 * v + (1 - beta2) * g * g; the step is
    lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps) at step t = 1, 2, ...
    Adam adds weight_decay * param to g; AdamW multiplies the parameter by 1 - lr *
    weight_decay before the step.
    """

    slots = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: dict[str, Any], names: list[str], xp: Any, *, decoupled: bool,
                 betas: tuple[float, float], eps: float, weight_decay: float) -> None:
        self.kind = "adamw" if decoupled else "adam"
        super().__init__(params, names, xp, weight_decay, decoupled)
        self.betas, self.eps = betas, eps

    def _update(self, lr: float) -> None:
        xp, g, work = self.xp, self._grad, self._work
        m, v = self.state["exp_avg"], self.state["exp_avg_sq"]
        beta1, beta2 = self.betas
        # torch's lerp(m, g, w); for w >= 0.5 it uses another form equal to this to rounding.
        xp.subtract(g, m, out=work)
        work *= 1 - beta1
        m += work
        v *= beta2
        xp.multiply(g, 1 - beta2, out=work)  # (1 - beta2) * g * g in torch's addcmul order
        work *= g
        v += work
        # Bias corrections in Python floats, as torch computes them from its step counter.
        step_size = lr / (1 - beta1 ** self.steps)
        xp.sqrt(v, out=work)
        work /= (1 - beta2 ** self.steps) ** 0.5
        work += self.eps
        xp.divide(m, work, out=work)
        work *= step_size


def make_optimizer(kind: str, params: dict[str, Any], names: list[str], xp: Any, *,
                   momentum: float = 0.9, nesterov: bool = False, weight_decay: float = 0.0,
                   betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> Optimizer:
    """An optimizer of `kind` ("sgd", "adam" or "adamw") over `params[name]` for `names`.

    momentum and nesterov apply to SGD (momentum 0 is plain SGD), betas and eps to Adam and
    AdamW; other settings are ignored, except nesterov, which only SGD has. OptimError for an
    unknown kind, settings out of range, or parameters that are not one floating dtype.
    """
    if kind not in KINDS:
        close = difflib.get_close_matches(kind, KINDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise OptimError(f"unknown optimizer '{kind}'{hint}; expected one of {', '.join(KINDS)}")
    _check_settings(kind, momentum, nesterov, weight_decay, betas, eps)
    _check_params(params, names)
    if kind == "sgd":
        return SGD(params, names, xp, momentum=momentum, nesterov=nesterov,
                   weight_decay=weight_decay)
    return Adam(params, names, xp, decoupled=kind == "adamw", betas=tuple(betas), eps=eps,
                weight_decay=weight_decay)


def _check_settings(kind: str, momentum: float, nesterov: bool, weight_decay: float,
                    betas: tuple[float, float], eps: float) -> None:
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise OptimError(f"weight decay must be a number >= 0, got {weight_decay}")
    if kind == "sgd":
        if not 0 <= momentum < 1:
            raise OptimError(f"momentum must lie in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise OptimError("Nesterov momentum needs a momentum > 0 (0 is plain SGD)")
        return
    if nesterov:
        raise OptimError(f"Nesterov momentum applies to sgd only, not {kind}")
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise OptimError(f"Adam betas must be two numbers in [0, 1), got {tuple(betas)}")
    if not (math.isfinite(eps) and eps >= 0):
        raise OptimError(f"Adam eps must be a number >= 0, got {eps}")


def _check_params(params: dict[str, Any], names: list[str]) -> None:
    if not names:
        raise OptimError("there are no trainable parameters to optimize (is every layer frozen?)")
    for name in names:
        if name not in params:
            raise OptimError(f"'{name}' is not one of the model's parameters")
    dtypes = {params[name].dtype for name in names}
    if len(dtypes) != 1 or next(iter(dtypes)).kind != "f":
        found = ", ".join(sorted(str(d) for d in dtypes))
        raise OptimError(f"the parameters must share one floating dtype, found {found}")
