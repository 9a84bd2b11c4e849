"""The cycle collector is paused while a compile runs (cnnc/collector.py) and left as it was
found after, whether the compile succeeds or fails."""

import gc

import pytest

from cnnc import CnncError, compile_text
from cnnc.collector import paused

SPEC = "name: t\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 3}\n"


@pytest.fixture
def collector():
    enabled = gc.isenabled()
    yield
    gc.enable() if enabled else gc.disable()


def test_paused_inside_and_restored_after(collector):
    gc.enable()
    with paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), paused():
        raise ValueError
    assert gc.isenabled()


def test_a_compile_leaves_the_collector_as_it_found_it(collector):
    for enabled in (True, False):
        gc.enable() if enabled else gc.disable()
        compile_text(SPEC).to_json()
        with pytest.raises(CnncError):
            compile_text(SPEC.replace("conv", "convv"))
        assert gc.isenabled() is enabled
