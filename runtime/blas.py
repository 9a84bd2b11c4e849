"""NumPy's own OpenBLAS, called from compiled kernels on Numba's threads.

NumPy 2 wheels ship OpenBLAS with a 64-bit-integer CBLAS (`scipy_cblas_sgemm64_`, ...). Its
symbols are found through NumPy's extension module, so this is the BLAS NumPy itself calls,
and registered with LLVM under fixed names, so cached compiled code links to them in every
process. Each call made from a Numba worker runs single-threaded (OpenBLAS's thread-local
count): the parallelism comes from the workers, and OpenBLAS's own pool stays asleep.

`matmul(xp, a, b)` is xp.matmul with its GEMMs spread over the workers; compiled kernels call
`gemm` directly on their blocks. Where NumPy's BLAS is something else (MKL, Accelerate, an
older OpenBLAS), AVAILABLE is False and everything falls back to xp.matmul.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any

import llvmlite.binding as llvm
import numpy
from numba import prange, types
from numba.extending import overload, register_jitable

from cnnc_runtime import jit

# CBLAS constants
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
# Below this many multiply-adds a GEMM is not worth splitting over threads.
SPLIT_MACS = 1 << 18

_SYMBOLS = {  # our name: NumPy's OpenBLAS name
    "cnnc_sgemm": "scipy_cblas_sgemm64_",
    "cnnc_dgemm": "scipy_cblas_dgemm64_",
    "cnnc_somatcopy": "scipy_cblas_somatcopy64_",
    "cnnc_domatcopy": "scipy_cblas_domatcopy64_",
    "cnnc_blas_threads_local": "openblas_set_num_threads_local",
    "cnnc_blas_set_threads": "scipy_openblas_set_num_threads64_",
}


def _register() -> ctypes.CDLL | None:
    """Register NumPy's OpenBLAS entry points with LLVM; the library, or None if absent."""
    try:
        from numpy._core import _multiarray_umath as module
    except ImportError:  # NumPy 1.x
        return None
    lib = ctypes.CDLL(module.__file__)  # dlsym searches the libraries it links, OpenBLAS too
    if not all(hasattr(lib, sym) for sym in _SYMBOLS.values()):
        return None
    for name, sym in _SYMBOLS.items():
        llvm.add_symbol(name, ctypes.cast(getattr(lib, sym), ctypes.c_void_p).value)
    return lib


_lib = _register()
AVAILABLE = _lib is not None

_i64, _ptr = types.int64, types.uint64
_sgemm = types.ExternalFunction("cnnc_sgemm", types.void(
    _i64, _i64, _i64, _i64, _i64, _i64, types.float32, _ptr, _i64, _ptr, _i64, types.float32,
    _ptr, _i64))
_dgemm = types.ExternalFunction("cnnc_dgemm", types.void(
    _i64, _i64, _i64, _i64, _i64, _i64, types.float64, _ptr, _i64, _ptr, _i64, types.float64,
    _ptr, _i64))
_somatcopy = types.ExternalFunction("cnnc_somatcopy", types.void(
    _i64, _i64, _i64, _i64, types.float32, _ptr, _i64, _ptr, _i64))
_domatcopy = types.ExternalFunction("cnnc_domatcopy", types.void(
    _i64, _i64, _i64, _i64, types.float64, _ptr, _i64, _ptr, _i64))
_threads_local = types.ExternalFunction("cnnc_blas_threads_local", types.int32(types.int32))


def set_threads(n: int) -> None:
    """Threads of NumPy's own BLAS calls (np.matmul outside the compiled kernels)."""
    if _lib is not None:
        _lib.scipy_openblas_set_num_threads64_(ctypes.c_int64(n))


@register_jitable
def single_threaded() -> None:
    """Inside a worker: this thread's BLAS calls run on this thread alone."""
    _threads_local(1)


@register_jitable
def _operand(a: Any) -> tuple[int, int]:
    """(CBLAS transpose flag, leading dimension) of a 2D view with one unit stride."""
    s = a.itemsize
    if a.strides[1] == s or a.shape[1] == 1:
        return NO_TRANS, max(a.strides[0] // s, a.shape[1], 1)
    return TRANS, max(a.strides[1] // s, a.shape[0], 1)


def gemm(a: Any, b: Any, c: Any, beta: float) -> None:
    """c = a @ b + beta * c for 2D views with a unit stride in either axis, c's in its rows;
    in compiled code, on the calling thread (see single_threaded)."""
    raise NotImplementedError("gemm is called from compiled kernels only")


@overload(gemm)
def _gemm(a: Any, b: Any, c: Any, beta: Any) -> Any:
    call = _sgemm if a.dtype == types.float32 else _dgemm

    def impl(a: Any, b: Any, c: Any, beta: Any) -> Any:  # the overload's exact signature
        m, n, k = c.shape[0], c.shape[1], a.shape[1]
        if m == 0 or n == 0:
            return
        if k == 0:
            c[...] = c * beta
            return
        ta, lda = _operand(a)
        tb, ldb = _operand(b)
        call(ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, beta,
             c.ctypes.data, max(c.strides[0] // c.itemsize, n, 1))
    return impl


def transpose(a: Any, b: Any) -> None:
    """b = a.T for 2D views with a unit stride along their rows (OpenBLAS's blocked copy,
    several times faster than an element loop); in compiled code, on the calling thread."""
    raise NotImplementedError("transpose is called from compiled kernels only")


@overload(transpose)
def _transpose(a: Any, b: Any) -> Any:
    call = _somatcopy if a.dtype == types.float32 else _domatcopy

    def impl(a: Any, b: Any) -> Any:  # the overload's exact signature
        rows, cols = a.shape
        if rows == 0 or cols == 0:
            return
        call(ROW_MAJOR, TRANS, rows, cols, 1.0, a.ctypes.data,
             max(a.strides[0] // a.itemsize, cols), b.ctypes.data,
             max(b.strides[0] // b.itemsize, rows))
    return impl


@jit.compiled(parallel=True)
def _matmul(a: Any, b: Any, c: Any, pieces: int, by_rows: bool) -> None:
    """c[i] = a[i] @ b[i] for every batch i, each split into `pieces` blocks of c's rows (or
    columns), one block per work item."""
    batch, m, n = c.shape
    size = m if by_rows else n
    step = -(-size // pieces)
    for item in prange(batch * pieces):
        i, p = item // pieces, item % pieces
        lo, hi = p * step, min(size, p * step + step)
        if lo < hi:
            single_threaded()
            if by_rows:
                gemm(a[i, lo:hi], b[i], c[i, lo:hi], 0.0)
            else:
                gemm(a[i], b[i, :, lo:hi], c[i, :, lo:hi], 0.0)


def _gemm_ready(a: Any) -> Any:
    """a itself when its last two axes have a unit stride in one of them, else a copy."""
    s = a.itemsize
    if a.shape[-1] == 1 or a.strides[-1] == s or a.shape[-2] == 1 or a.strides[-2] == s:
        return a
    return numpy.ascontiguousarray(a)


def matmul(xp: Any, a: Any, b: Any, out: Any = None) -> Any:
    """xp.matmul(a, b, out=out) for 2D and batched 3D operands (a batch of one broadcasts),
    and (N, 1, M, K) @ (1, K, P), a grouped conv's layout with one group, run on the compiled
    kernels' threads."""
    if (not (AVAILABLE and jit.enabled(xp)) or a.dtype != b.dtype or a.ndim < 2 or b.ndim < 2
            or a.dtype not in (numpy.float32, numpy.float64)):
        return xp.matmul(a, b, out=out)
    result, given = None, out
    if (max(a.ndim, b.ndim) == 4 and a.shape[-3:-2] in ((), (1,)) and b.shape[-3:-2] in ((), (1,))
            and (out is None or out.flags.c_contiguous)):
        result = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        a, b = _one_batch_axis(a), _one_batch_axis(b)
        out = None if out is None else _one_batch_axis(out)
    if a.ndim > 3 or b.ndim > 3:
        return xp.matmul(a, b, out=out)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = max(a.shape[0] if a.ndim == 3 else 1, b.shape[0] if b.ndim == 3 else 1)
    threads = jit.threads()
    before = _lib.openblas_set_num_threads_local(1)  # the caller is worker 0, or works alone
    try:
        if threads == 1 or batch * m * n * k < SPLIT_MACS:  # too small to split
            c = xp.matmul(a, b, out=out)
        else:
            c = _parallel(a, b, out, batch, m, k, n, threads)
    finally:
        _lib.openblas_set_num_threads_local(before)
    if result is None:
        return c
    return c.reshape(result) if given is None else given


def _one_batch_axis(t: Any) -> Any:
    """(N, 1, M, K) as (N, M, K) and (1, K, P) as (K, P): the unit axis -3 dropped."""
    return t.reshape(t.shape[:-3] + t.shape[-2:]) if t.ndim > 2 else t


def _parallel(a: Any, b: Any, out: Any, batch: int, m: int, k: int, n: int,
              threads: int) -> Any:
    shape = (batch, m, n) if max(a.ndim, b.ndim) == 3 else (m, n)
    if out is None:
        out = numpy.empty(shape, a.dtype)
    c = out if out.flags.c_contiguous else numpy.empty(shape, a.dtype)
    a3 = numpy.broadcast_to(_gemm_ready(a), (batch, m, k))
    b3 = numpy.broadcast_to(_gemm_ready(b), (batch, k, n))
    pieces = min(threads // math.gcd(batch, threads), max(m, n))
    _matmul(a3, b3, c.reshape(batch, m, n), pieces, m >= n)
    if c is not out:
        out[...] = c
    return out

