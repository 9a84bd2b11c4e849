"""Compiled CPU kernels: how they are compiled, when they run, and on how many threads.

A kernel's NumPy body is its definition. Where NumPy cannot fuse passes or spread them over the
cores, a compiled twin written with Numba sits in the same file and the kernel calls it when
`enabled(xp)`; a test holds the two together, and gradient checks also run on the NumPy body
(`reference_kernels()`). Set CNNC_KERNELS=reference to run the NumPy bodies everywhere.

Every compiled kernel runs on Numba's thread pool, and the GEMMs inside them run on the same
threads, one single-threaded BLAS call per worker (runtime/blas.py): two pools taking turns on
the same cores (Numba's and OpenBLAS's, each spinning for a while after its work) cost more
than the work itself on small layers. `set_threads` sets the pool for both.

Compiled code is cached on disk (`cache=True`), so compilation is paid once per machine; Numba
is imported by the runtime only, never by `cnnc compile`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import numba
import numpy

# nogil: the calling thread may run Python meanwhile; error_model numpy: x / 0 gives inf or nan
# as in NumPy, with no check per division; no fastmath: results are the IEEE operations as
# written, so the compiled twin and the NumPy body agree to rounding.
OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}

_enabled = os.environ.get("CNNC_KERNELS", "compiled") != "reference"


def compiled(parallel: bool = False) -> Callable[[Callable], Any]:
    """Decorator: compile a kernel body with the runtime's options (`parallel` for prange)."""
    return numba.njit(parallel=parallel, **OPTIONS)


def enabled(xp: Any) -> bool:
    """Whether the compiled twins run for arrays of `xp` (NumPy, unless switched off)."""
    return _enabled and xp is numpy


@contextlib.contextmanager
def reference_kernels() -> Iterator[None]:
    """Run the NumPy bodies inside the block (tests pin each path in turn)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def max_threads() -> int:
    """The size of Numba's pool: the machine's cores unless NUMBA_NUM_THREADS says fewer."""
    return numba.config.NUMBA_NUM_THREADS


def threads() -> int:
    """Threads the compiled kernels use now."""
    return numba.get_num_threads()


def set_threads(n: int) -> None:
    """Run compiled kernels, their GEMMs and NumPy's own BLAS calls on `n` threads."""
    from cnnc_runtime import blas

    if not 1 <= n <= max_threads():
        raise ValueError(f"threads must be between 1 and {max_threads()} (this machine's cores"
                         f" or NUMBA_NUM_THREADS), got {n}")
    numba.set_num_threads(n)
    blas.set_threads(n)
