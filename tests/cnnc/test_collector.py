"""The cycle collector is paused while a compile runs (cnnc/collector.py) and left as it was
found after, whether the compile succeeds or fails."""

import gc

import pytest

from cnnc import CnncError, compile_file, compile_text
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


@pytest.mark.parametrize("model", ["densenet201", "wavenet", "hourglass_hg8", "segnet",
                                   "googlenet_aux"])
def test_a_compile_leaves_no_cycles_behind(collector, model):
    """Reference counting frees all a compile discards (the expansion's scopes, references and
    caches), so the collection after it has no garbage to find: `$in` reads, gathers, recursion,
    extra outputs and training-only heads each make their own."""
    compile_file(model).to_json()  # imports and caches, which live on
    gc.collect()
    gc.disable()
    compile_file(model).to_json()
    assert gc.collect() == 0
