"""Fixtures of the GPU tests: `cupy`, the array module of the GPU, or a skip that says why there
is none (CuPy missing, or no usable CUDA device: cnnc_runtime.device's one-line DeviceError)."""

import pytest

from cnnc_runtime import device


@pytest.fixture(scope="session")
def cupy():
    try:
        return device.array_module("gpu")
    except device.DeviceError as e:
        pytest.skip(str(e))
