"""Choosing the device: NumPy for "cpu", CuPy for "gpu", and one clear line where no GPU can be
used (CuPy missing, or CuPy without a usable CUDA device), never a traceback."""

import sys
import types

import numpy as np
import pytest

from cnnc import build_model
from cnnc.cli import main
from cnnc_runtime import device


class FakeCudaError(Exception):
    pass


def fake_cupy(count=None, error=None):
    """A stand-in for the cupy module: getDeviceCount returns `count` or raises `error`."""
    def get_device_count():
        if error is not None:
            raise FakeCudaError(error)
        return count

    runtime = types.SimpleNamespace(getDeviceCount=get_device_count, CUDARuntimeError=FakeCudaError)
    return types.SimpleNamespace(__version__="14.2.0", cuda=types.SimpleNamespace(runtime=runtime))


def test_cpu_is_numpy_and_unknown_devices_are_named():
    assert device.array_module("cpu") is np and not device.on_gpu(np)
    with pytest.raises(device.DeviceError, match="unknown device 'tpu'; expected one of cpu, gpu"):
        device.array_module("tpu")


def test_gpu_without_cupy_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    with pytest.raises(device.DeviceError, match=r"needs CuPy, which is not installed: pip "
                       r"install 'cnnc\[gpu\]'"):
        device.array_module("gpu")


@pytest.mark.parametrize("cupy, reason", [
    (fake_cupy(error="cudaErrorNoDevice: no CUDA-capable device is detected"),
     r"finds no usable CUDA GPU \(cudaErrorNoDevice"),
    (fake_cupy(count=0), "sees no CUDA GPU"),
])
def test_gpu_without_a_device_says_so_and_points_to_the_cpu(monkeypatch, cupy, reason):
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    with pytest.raises(device.DeviceError, match=reason) as e:
        device.array_module("gpu")
    assert "--device cpu" in str(e.value) and "\n" not in str(e.value)


def test_the_python_api_and_the_command_line_refuse_a_missing_gpu_in_one_line(monkeypatch,
                                                                               capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)
    with pytest.raises(device.DeviceError):
        build_model("lenet5", device="gpu")
    assert main(["run", "mnist1d_cnn", "--train", "--data", "mnist1d", "--device", "gpu"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cnnc run: error: device 'gpu' needs CuPy") and err.count("\n") == 1
    assert "Traceback" not in err


def test_host_batches_pass_through_on_the_cpu():
    batches = [(np.arange(6.0).reshape(2, 3), np.array([0, 1])) for _ in range(3)]
    out = list(device.batches_on(np, iter(batches)))
    assert len(out) == 3 and all(a is b for a, b in zip(out, batches))  # no copies
    assert device.to_host([1, 2]).tolist() == [1, 2]


def test_cuda_sources_name_their_element_type():
    assert device.cuda_source("T x;", "float32").startswith("typedef float T;")
    assert device.cuda_source("T x;", "float64").startswith("typedef double T;")
    with pytest.raises(TypeError, match="not float16"):
        device.cuda_source("T x;", "float16")
