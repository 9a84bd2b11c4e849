"""Every kernel test runs twice: on the compiled twins (what runs on the CPU) and on the NumPy
references that define them (runtime/jit.py), so gradient checks and PyTorch comparisons hold
for both. Tests marked `twins` compare the two themselves and run once."""

import contextlib

import pytest

from cnnc_runtime import jit


def pytest_configure(config):
    config.addinivalue_line("markers", "twins: compares compiled kernels with their references")


def pytest_generate_tests(metafunc):
    once = metafunc.definition.get_closest_marker("twins") is not None
    metafunc.fixturenames.append("kernel_path")
    metafunc.parametrize("kernel_path", ["compiled"] if once else ["compiled", "reference"],
                         indirect=True)


@pytest.fixture(autouse=True)
def kernel_path(request):
    with jit.reference_kernels() if request.param == "reference" else contextlib.nullcontext():
        yield request.param
