"""Learning-rate schedules: the rate of each optimizer step as a closed form of its number.

A schedule is a pure function of the step, so resuming a run needs only the step count. It
equals PyTorch's schedulers stepped once per optimizer step, to rounding (PyTorch updates the
rate recursively): LinearLR for the warm-up, then, through SequentialLR, a constant rate,
StepLR or CosineAnnealingLR.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from cnnc_runtime.wording import plural

KINDS = ("constant", "step", "cosine")


class ScheduleError(ValueError):
    """Schedule settings that cannot make a schedule; the message says which and why."""


@dataclass(frozen=True)
class Schedule:
    """The learning rate of optimizer step `step` (0-based) of a run of `total_steps`.

    Warm-up: steps 0 .. warmup_steps - 1 get base_lr * (warmup_start + (1 - warmup_start) *
    step / warmup_steps), rising linearly towards base_lr (LinearLR with start_factor
    warmup_start, whose default 1/3 is PyTorch's). The main schedule then runs over the
    remaining steps, counting s = step - warmup_steps from 0, so it starts at base_lr:
      constant  base_lr
      step      base_lr * gamma ** (s // step_every)                  (StepLR)
      cosine    min_lr + (base_lr - min_lr) * (1 + cos(pi * s / T)) / 2 with
                T = total_steps - warmup_steps                         (CosineAnnealingLR)
    Past the run's end the cosine stays at min_lr. step_every is read by "step" only, min_lr
    by "cosine" only. Construction checks the settings (ScheduleError).
    """

    kind: str
    base_lr: float
    total_steps: int
    warmup_steps: int = 0
    step_every: int = 0
    gamma: float = 0.1
    min_lr: float = 0.0
    warmup_start: float = 1 / 3

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            close = difflib.get_close_matches(self.kind, KINDS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ScheduleError(f"unknown learning-rate schedule '{self.kind}'{hint}; expected "
                                f"one of {', '.join(KINDS)}")
        if not (math.isfinite(self.base_lr) and self.base_lr > 0):
            raise ScheduleError(f"the learning rate must be a positive number, got "
                                f"{self.base_lr}")
        if self.total_steps < 1:
            raise ScheduleError(f"a run needs at least one optimizer step, got "
                                f"{self.total_steps}")
        if not 0 <= self.warmup_steps < self.total_steps:
            raise ScheduleError(f"a warm-up of {plural(self.warmup_steps, 'step')} does not fit "
                                f"a run of {plural(self.total_steps, 'step')}: it must be >= 0 "
                                "and leave steps "
                                "for the schedule (shorten the warm-up or train longer)")
        if not 0 <= self.warmup_start <= 1:
            raise ScheduleError(f"the warm-up starts at a fraction of the learning rate in "
                                f"[0, 1], got {self.warmup_start}")
        if self.kind == "step":
            if self.step_every < 1:
                raise ScheduleError(f"the 'step' schedule needs a decay interval of at least one "
                                    f"step, got {self.step_every}")
            if not 0 < self.gamma <= 1:
                raise ScheduleError(f"the 'step' schedule's gamma (the factor applied at each "
                                    f"decay) must lie in (0, 1], got {self.gamma}")
        if self.kind == "cosine" and not 0 <= self.min_lr <= self.base_lr:
            raise ScheduleError(f"the cosine floor min_lr must lie in [0, {self.base_lr}] (the "
                                f"learning rate), got {self.min_lr}")

    def lr(self, step: int) -> float:
        """The learning rate for optimizer step `step` (0-based, >= 0)."""
        if step < self.warmup_steps:
            start = self.warmup_start
            return self.base_lr * (start + (1 - start) * step / self.warmup_steps)
        s = step - self.warmup_steps
        if self.kind == "step":
            return self.base_lr * self.gamma ** (s // self.step_every)
        if self.kind == "cosine":
            span = self.total_steps - self.warmup_steps
            cosine = (1 + math.cos(math.pi * min(s, span) / span)) / 2
            return self.min_lr + (self.base_lr - self.min_lr) * cosine
        return self.base_lr


def make_schedule(kind: str, base_lr: float, total_steps: int, *, warmup_steps: int = 0,
                  step_every: int = 0, gamma: float = 0.1, min_lr: float = 0.0,
                  warmup_start: float = 1 / 3) -> Schedule:
    """A checked Schedule (see its docstring); ScheduleError, one line, for bad settings."""
    return Schedule(kind, base_lr, total_steps, warmup_steps, step_every, gamma, min_lr,
                    warmup_start)
