"""Refusing work too big for the memory (runtime/memory_check.py), before anything is allocated."""

import sys

import numpy as np
import pytest

import cnnc_runtime.memory_check
from cnnc import compile_text
from cnnc.lower import lower
from cnnc_runtime.device import available_memory
from cnnc_runtime.memory_check import MemoryLimitError, check_activations, check_params
from cnnc_runtime.model import Model

SPEC = """
name: small
input: [1, 8, 8]
layers:
  - {id: conv, op: conv, out: 4, kernel: 3, padding: 1}
  - {id: flat, op: flatten}
  - {id: fc, op: linear, out: 2}
"""
PARAM_BYTES = (4 * 9 + 4 + 2 * 256 + 2) * 4  # conv weight and bias, fc weight and bias


@pytest.fixture
def plan():
    return lower(compile_text(SPEC))


def limit(monkeypatch, available):
    monkeypatch.setattr(cnnc_runtime.memory_check, "available_memory", lambda xp: available)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/meminfo")
def test_the_host_reports_its_available_memory():
    with open("/proc/meminfo") as f:
        total = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    assert 0 < available_memory(np) <= total


def test_parameters_that_fit_pass_and_the_first_byte_over_is_refused(plan, monkeypatch):
    limit(monkeypatch, PARAM_BYTES)
    check_params(plan, np, 4)
    limit(monkeypatch, PARAM_BYTES - 1)
    with pytest.raises(MemoryLimitError) as e:
        check_params(plan, np, 4)
    assert str(e.value) == ("'small' needs 2.2 KiB (2,216 bytes) for its parameters and state, "
                            "2.0 KiB (2,048 bytes) of it for 'fc.weight' (2x256), but 2.2 KiB "
                            "(2,215 bytes) of memory is available; make layer 'fc' smaller")
    check_params(plan, np, 2)  # float16 takes half


def test_training_needs_every_activation_and_inference_only_the_peak(plan, monkeypatch):
    training, inference = plan.training.naive_bytes, plan.inference.peak_bytes
    assert inference < training
    limit(monkeypatch, 10 * inference)
    check_activations(plan, np, 10, 4, training=False)
    with pytest.raises(MemoryLimitError) as e:
        check_activations(plan, np, 10, 4, training=True)
    assert str(e.value).startswith(
        f"a batch of 10 through 'small' needs 12.6 KiB ({10 * training:,} bytes) for its "
        "activations in training, 1.0 KiB (1,024 bytes) per example for the output of 'conv' "
        "(4x8x8), but ")
    doubled = rf"a batch of 10 .* needs .* \({20 * inference:,} bytes\)"
    with pytest.raises(MemoryLimitError, match=doubled):
        check_activations(plan, np, 10, 8, training=False)  # float64: twice the bytes


def test_unknown_memory_checks_nothing(plan, monkeypatch):
    limit(monkeypatch, None)
    check_params(plan, np, 4)
    check_activations(plan, np, 10**9, 4, training=True)


def test_a_model_too_big_is_refused_before_its_parameters_exist(plan, monkeypatch):
    limit(monkeypatch, 100)
    made = []
    monkeypatch.setattr(Model, "_init", lambda self, t, rng: made.append(t))
    with pytest.raises(MemoryLimitError, match="'small' needs"):
        Model(plan)
    assert made == []


def test_build_model_refuses_a_layer_of_10_to_the_11_weights():
    from cnnc import build_model
    spec = compile_text("name: wide\ninput: [1, 100000]\nlayers:\n  - {op: flatten}\n"
                        "  - {op: linear, out: 1000000}\n")
    if (available_memory(np) or 0) > 4 * 10**11:
        pytest.skip("this machine has 400 GB free")
    with pytest.raises(MemoryLimitError, match=r"'linear_1\.weight' \(1000000x100000\)"):
        build_model(spec)
