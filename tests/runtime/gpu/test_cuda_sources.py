"""The CUDA sources of the fused kernels compile with NVRTC for both element types and for the
GPU generations we target, and define exactly the kernels their modules launch.

Runs without a GPU: NVRTC compiles to PTX on the host, so a syntax or type error in a kernel
fails here, in CI, not first on someone's GPU. Skipped only where NVRTC cannot be loaded.
"""

import inspect
import re

import pytest

from cnnc_runtime import device
from cnnc_runtime.kernels import KERNELS

# Ampere (A100) and Hopper (H100); compute_80 also bounds the features a kernel may use.
ARCHS = ("compute_80", "compute_90")
GLOBAL = re.compile(r'extern\s+"C"\s+__global__\s+void\s+(\w+)\s*\(')
LAUNCHED = re.compile(r'"(cnnc_\w+)"')  # kernel names as Python strings in the module
WITH_SOURCES = {name: m for name, m in KERNELS.items() if hasattr(m, "CUDA_SOURCE")}


@pytest.fixture(scope="module")
def nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()  # loads the library: importing alone does not
    except (ImportError, OSError, RuntimeError) as e:  # no CuPy, or no loadable libnvrtc
        pytest.skip(f"NVRTC cannot be loaded here ({type(e).__name__}: {e})")
    return nvrtc


def compile_ptx(nvrtc, source: str, name: str, options: list[str]) -> str:
    """PTX of `source`; on failure the assertion carries NVRTC's log (the compiler errors)."""
    program = nvrtc.createProgram(source, name, [], [])
    try:
        try:
            nvrtc.compileProgram(program, options)
        except nvrtc.NVRTCError as e:
            pytest.fail(f"{name} {' '.join(options)}: {e}\n{nvrtc.getProgramLog(program)}")
        ptx = nvrtc.getPTX(program)
    finally:
        nvrtc.destroyProgram(program)
    return ptx.decode() if isinstance(ptx, bytes) else ptx


def launched(module) -> set[str]:
    """Kernel names the module's Python code passes to cuda_function (its CUDA text left out)."""
    code = inspect.getsource(module).replace(module.CUDA_SOURCE, "")
    return set(LAUNCHED.findall(code))


def test_the_fused_kernels_have_cuda_sources():
    assert {"conv_relu", "conv_bn"} <= WITH_SOURCES.keys()


@pytest.mark.parametrize("name", sorted(WITH_SOURCES))
def test_every_launched_kernel_is_defined_and_every_defined_one_launched(name):
    module = WITH_SOURCES[name]
    defined = GLOBAL.findall(module.CUDA_SOURCE)
    assert defined and len(defined) == len(set(defined)), f"{name}: kernels {defined}"
    assert launched(module) == set(defined)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(WITH_SOURCES))
def test_cuda_source_compiles(nvrtc, name, dtype, arch):
    module = WITH_SOURCES[name]
    source = device.cuda_source(module.CUDA_SOURCE, dtype)
    ptx = compile_ptx(nvrtc, source, f"{name}.cu", [f"--gpu-architecture={arch}",
                                                    "--std=c++17"])
    # extern "C": each kernel keeps its plain name, which cuda_function looks up.
    entries = set(re.findall(r"\.entry\s+(\w+)", ptx))
    assert entries == set(GLOBAL.findall(module.CUDA_SOURCE))
    # The element type reached the kernels: float loads are .f32, double loads .f64.
    assert re.search(r"ld\.global(\.nc)?\.f" + dtype[-2:], ptx), f"{name}: no {dtype} loads"
