"""Where a Model's arrays live: NumPy on the host ("cpu") or CuPy on a CUDA GPU ("gpu").

CuPy is imported here and nowhere else, and only when a GPU is asked for, so `cnnc compile` and
CPU runs never load it. Kernels receive the array module `xp` and are one body for both; only
the fused kernels (runtime/kernels/conv_relu.py, conv_bn.py) ask `on_gpu(xp)` to launch their
CUDA source instead of their NumPy reference, through `cuda_function`, which compiles each
source once per device and data type. `batches_on` moves training batches to the device one
step ahead of use.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

import numpy

DEVICES = ("cpu", "gpu")
INSTALL = "pip install 'cnnc[gpu]' (CUDA 12) or 'cnnc[gpu-cuda13]' (CUDA 13)"
THREADS = 256  # threads per block of every elementwise and reduction launch
CUDA_TYPES = {"float32": "float", "float64": "double"}

# Bytes of im2col matrix per GEMM (runtime/kernels/conv.py). On the CPU the chunk's matrix must
# still be in cache when its GEMM reads it (measured, 2 cores: resnet20's 16-channel 3x3 conv at
# batch 64, 42 MB of columns: forward 7.7 -> 3.7 ms). On a GPU a GEMM must be large to fill the
# SMs and no cache is that big, so only memory bounds it (not yet measured on a GPU).
IM2COL_BYTES = {"cpu": 6 << 20, "gpu": 1 << 30}


class DeviceError(RuntimeError):
    """The device asked for cannot be used here; the message says why and what to do."""


def array_module(device: str) -> ModuleType:
    """numpy for "cpu", cupy for "gpu" (DeviceError when CuPy or a GPU is missing)."""
    if device == "cpu":
        return numpy
    if device != "gpu":
        raise DeviceError(f"unknown device '{device}'; expected one of {', '.join(DEVICES)}")
    return _cupy()


def _cupy() -> ModuleType:
    try:
        import cupy
    except ImportError:
        raise DeviceError(f"device 'gpu' needs CuPy, which is not installed: {INSTALL}; "
                          "or run on the CPU (--device cpu)") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as e:
        raise DeviceError(f"device 'gpu': CuPy {cupy.__version__} finds no usable CUDA GPU ({e});"
                          " run on the CPU (--device cpu)") from None
    if count == 0:
        raise DeviceError(f"device 'gpu': CuPy {cupy.__version__} sees no CUDA GPU; run on the "
                          "CPU (--device cpu)")
    return cupy


def select_gpu(local_rank: int) -> None:
    """Make GPU number `local_rank` (modulo the GPUs there are) this process's: distributed
    training runs one rank per GPU of each machine."""
    cupy = _cupy()
    cupy.cuda.Device(local_rank % cupy.cuda.runtime.getDeviceCount()).use()


def nccl() -> ModuleType:
    """CuPy's binding of NCCL (DeviceError when this CuPy has none)."""
    try:
        from cupy.cuda import nccl as binding
    except ImportError:
        binding = None
    if binding is None or not getattr(binding, "available", True):
        raise DeviceError("distributed training on GPUs needs NCCL, which this CuPy lacks: "
                          "pip install nvidia-nccl-cu12 (CUDA 12) or nvidia-nccl-cu13")
    return binding


def on_gpu(xp: ModuleType) -> bool:
    """Whether arrays of `xp` live on a GPU (xp is cupy)."""
    return xp is not numpy


def device_name(xp: ModuleType) -> str:
    return "gpu" if on_gpu(xp) else "cpu"


def available_memory(xp: ModuleType) -> int | None:
    """Bytes a new allocation on `xp`'s device can get without swapping, or None if unknown:
    the GPU's free memory (with the blocks CuPy's pool holds for reuse), or the host's
    MemAvailable (Linux's estimate, which counts reclaimable caches), else its free pages."""
    if on_gpu(xp):
        return xp.cuda.runtime.memGetInfo()[0] + xp.get_default_memory_pool().free_bytes()
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the file's unit is kB
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # no sysconf, or no such name here
        return None


def to_host(a: Any) -> numpy.ndarray:
    """A NumPy copy of a device array; NumPy arrays as they are."""
    return a.get() if hasattr(a, "get") else numpy.asarray(a)


# CUDA kernels ---------------------------------------------------------------------------------

def cuda_source(source: str, dtype: str) -> str:
    """A kernel source for one data type: `T` is the element type (float or double)."""
    if dtype not in CUDA_TYPES:
        raise TypeError(f"CUDA kernels take {' or '.join(CUDA_TYPES)}, not {dtype}")
    return f"typedef {CUDA_TYPES[dtype]} T;\n{source}"


@functools.cache
def _module(device_id: int, source: str, dtype: str) -> Any:
    import cupy
    return cupy.RawModule(code=cuda_source(source, dtype), options=("--std=c++17",))


def cuda_function(source: str, name: str, dtype: Any) -> Any:
    """The kernel `name` of `source` for `dtype`, compiled once per device (and cached).
    Only called with device arrays in hand, so CuPy and a GPU are there."""
    import cupy
    return _module(cupy.cuda.Device().id, source, numpy.dtype(dtype).name).get_function(name)


def check_launch(kernel: str, dtype: Any, **arrays: Any) -> None:
    """Raw kernels read memory as they are told: each array must be a C-contiguous device
    array of `dtype` (AssertionError naming the kernel and argument otherwise)."""
    for name, a in arrays.items():
        assert a.dtype == dtype, f"{kernel}: {name} is {a.dtype}, the launch is for {dtype}"
        assert a.flags.c_contiguous, f"{kernel}: {name} is not C-contiguous"


def launch(kernel: Any, grid: tuple[int, ...], block: int, *args: Any) -> None:
    """Launch with Python ints passed as C `long long` (CuPy would guess their width)."""
    kernel(grid, (block,), tuple(numpy.int64(a) if isinstance(a, (int, numpy.integer)) else a
                                 for a in args))


def grid_for(n: int, per_block: int = THREADS) -> int:
    """Blocks for a grid-stride loop over n elements: enough to fill any current GPU, few
    enough that each thread does several elements."""
    return max(1, min((n + per_block - 1) // per_block, 8192))


# Host -> device -------------------------------------------------------------------------------

def batches_on(xp: ModuleType, batches: Iterable[tuple[numpy.ndarray, ...]]
               ) -> Iterator[tuple[Any, ...]]:
    """The host batches as arrays of `xp`. On a GPU each batch is staged in pinned memory and
    copied on a side stream while the previous one computes, so a step never waits for its data
    (the compute stream waits on the copy's event instead)."""
    if not on_gpu(xp):
        yield from batches
        return
    staging, ahead = _Staging(xp), None
    for batch in batches:
        staged = staging.put(batch)
        if ahead is not None:
            yield staging.ready(ahead)
        ahead = staged
    if ahead is not None:
        yield staging.ready(ahead)


class _Staging:
    """Two pinned host buffers per array shape, used in turn, and a copy stream."""

    def __init__(self, cupy: ModuleType) -> None:
        self.cupy, self.stream = cupy, cupy.cuda.Stream(non_blocking=True)
        self.pinned: dict[tuple, list] = {}  # (i, shape, dtype) -> 2 x [buffer, last copy event]
        self.turn = 0

    def put(self, batch: tuple[numpy.ndarray, ...]) -> tuple[tuple[Any, ...], Any]:
        cupy, self.turn = self.cupy, 1 - self.turn
        # The arrays below come from the compute stream's memory pool, which may hand out
        # memory that work queued there still reads: the copies wait for that work.
        self.stream.wait_event(cupy.cuda.get_current_stream().record())
        arrays, used = [], []
        for i, a in enumerate(batch):
            a = numpy.ascontiguousarray(a)
            slots = self.pinned.setdefault((i, a.shape, a.dtype.str), [None, None])
            if slots[self.turn] is None:
                slots[self.turn] = [cupy.cuda.alloc_pinned_memory(a.nbytes), None]
            slot = slots[self.turn]
            if slot[1] is not None:
                slot[1].synchronize()  # the copy out of this buffer two batches ago is done
            host = numpy.frombuffer(slot[0], a.dtype, a.size).reshape(a.shape)
            host[...] = a
            on_device = cupy.empty(a.shape, a.dtype)
            on_device.set(host, stream=self.stream)
            arrays.append(on_device)
            used.append(slot)
        event = self.stream.record()
        for slot in used:
            slot[1] = event
        return tuple(arrays), event

    def ready(self, staged: tuple[tuple[Any, ...], Any]) -> tuple[Any, ...]:
        arrays, event = staged
        self.cupy.cuda.get_current_stream().wait_event(event)
        return arrays
