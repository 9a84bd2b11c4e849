"""Learning-rate schedules against torch.optim.lr_scheduler over whole runs, their closed forms
at the boundaries, and one-line errors for settings that make no schedule."""

import math
import warnings

import pytest

from cnnc_runtime.lr import Schedule, ScheduleError, make_schedule


def torch_rates(torch, schedule: Schedule) -> list[float]:
    """PyTorch's rate before each optimizer step: LinearLR warm-up, then the main scheduler,
    joined by SequentialLR and stepped once per optimizer step."""
    sched = torch.optim.lr_scheduler
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=schedule.base_lr)
    span = schedule.total_steps - schedule.warmup_steps
    main = {"constant": lambda: sched.LambdaLR(opt, lambda _: 1.0),
            "step": lambda: sched.StepLR(opt, schedule.step_every, schedule.gamma),
            "cosine": lambda: sched.CosineAnnealingLR(opt, span, schedule.min_lr)}[schedule.kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's own step(0) call is deprecated usage
        if schedule.warmup_steps:
            warmup = sched.LinearLR(opt, schedule.warmup_start, 1.0, schedule.warmup_steps)
            scheduler = sched.SequentialLR(opt, [warmup, main()], [schedule.warmup_steps])
        else:
            scheduler = main()
        rates = []
        for _ in range(schedule.total_steps):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
    return rates


@pytest.mark.parametrize("kind", ["constant", "step", "cosine"])
@pytest.mark.parametrize(("total", "warmup", "start"), [(1000, 0, 1 / 3), (1000, 1, 0.25),
                                                         (1500, 75, 1 / 3), (40, 39, 0.1)])
def test_every_step_matches_torch_lr_scheduler(kind, total, warmup, start):
    torch = pytest.importorskip("torch")
    schedule = make_schedule(kind, 0.1, total, warmup_steps=warmup, warmup_start=start,
                             step_every=170, gamma=0.3, min_lr=1e-3 if warmup % 2 else 0.0)
    expected = torch_rates(torch, schedule)
    for step, rate in enumerate(expected):
        assert schedule.lr(step) == pytest.approx(rate, rel=1e-12, abs=0), step


def test_warm_up_rises_linearly_to_the_base_rate_where_the_main_schedule_starts():
    schedule = make_schedule("cosine", 0.4, 110, warmup_steps=10, warmup_start=0.0)
    assert schedule.lr(0) == 0.0
    assert schedule.lr(5) == pytest.approx(0.2, rel=1e-15)
    assert schedule.lr(9) == pytest.approx(0.36, rel=1e-15)
    assert schedule.lr(10) == 0.4
    assert schedule.lr(60) == pytest.approx(0.2, rel=1e-15)  # half-way down the cosine
    assert 0 < schedule.lr(109) < 1e-3
    assert schedule.lr(110) == 0.0 and schedule.lr(500) == 0.0  # the floor, past the end


def test_step_decays_at_each_interval_counted_from_the_end_of_warm_up():
    schedule = make_schedule("step", 1.0, 100, warmup_steps=5, step_every=10, gamma=0.5)
    assert [schedule.lr(s) for s in (5, 14, 15, 24, 25, 95, 99)] == [
        1.0, 1.0, 0.5, 0.5, 0.25, 2 ** -9, 2 ** -9]


def test_cosine_ends_at_its_floor_and_constant_stays_put():
    cosine = make_schedule("cosine", 0.1, 50, min_lr=0.01)
    assert cosine.lr(0) == 0.1 and cosine.lr(50) == pytest.approx(0.01, rel=1e-15)
    assert min(cosine.lr(s) for s in range(50)) > 0.01
    assert all(make_schedule("constant", 0.1, 50).lr(s) == 0.1 for s in range(50))


@pytest.mark.parametrize(("kind", "options", "phrases"), [
    ("cosin", {}, ["unknown learning-rate schedule 'cosin'", "did you mean 'cosine'?",
                   "constant, step, cosine"]),
    ("constant", {"base_lr": -0.1}, ["learning rate", "positive", "-0.1"]),
    ("constant", {"base_lr": math.inf}, ["learning rate", "inf"]),
    ("constant", {"total_steps": 0}, ["at least one optimizer step", "got 0"]),
    ("cosine", {"warmup_steps": 100}, ["warm-up of 100 steps", "run of 100 steps"]),
    ("cosine", {"warmup_steps": -1}, ["warm-up of -1 steps", ">= 0"]),
    ("constant", {"warmup_steps": 5, "warmup_start": 1.5}, ["warm-up starts", "1.5"]),
    ("step", {"step_every": 0}, ["'step' schedule", "decay interval", "got 0"]),
    ("step", {"step_every": 10, "gamma": 0.0}, ["gamma", "(0, 1]", "0.0"]),
    ("cosine", {"min_lr": 0.5}, ["min_lr", "[0, 0.1]", "0.5"]),
])
def test_bad_settings_are_one_line_errors(kind, options, phrases):
    settings = {"base_lr": 0.1, "total_steps": 100} | options
    with pytest.raises(ScheduleError) as e:
        make_schedule(kind, **settings)
    message = str(e.value)
    assert "\n" not in message and all(p in message for p in phrases), message


def test_settings_of_other_kinds_are_ignored():
    # The caller passes every setting whatever the kind: a cosine run ignores step_every.
    assert make_schedule("cosine", 0.1, 100, step_every=0, gamma=5.0).lr(0) == 0.1
    assert make_schedule("step", 0.1, 100, step_every=10, min_lr=1.0).lr(10) == \
        pytest.approx(0.01, rel=1e-15)
