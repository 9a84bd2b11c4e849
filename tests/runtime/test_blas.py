"""GEMMs on the compiled kernels' threads: the same products as np.matmul, for every operand
layout and batch shape the kernels use."""

import numpy as np
import pytest

from cnnc_runtime import blas, jit

pytestmark = pytest.mark.skipif(not blas.AVAILABLE, reason="NumPy's BLAS is not OpenBLAS 64")

SHAPES = [((300, 200), (200, 100)), ((3, 300, 200), (200, 100)), ((300, 200), (3, 200, 100)),
          ((3, 300, 200), (3, 200, 700)), ((700, 64), (64, 900)), ((2, 5, 4), (2, 4, 3))]


def operand(rng, shape, dtype, transposed):
    """A random array of `shape`, C-ordered or as a transposed view (unit stride in rows)."""
    if not transposed:
        return rng.standard_normal(shape).astype(dtype)
    return np.swapaxes(rng.standard_normal(shape[:-2] + shape[:-3:-1]).astype(dtype), -1, -2)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-13)])
@pytest.mark.parametrize("a_t, b_t", [(False, False), (True, False), (False, True)])
@pytest.mark.parametrize("a_shape, b_shape", SHAPES)
def test_matmul_equals_numpy(a_shape, b_shape, a_t, b_t, dtype, tol):
    rng = np.random.default_rng(0)
    a, b = operand(rng, a_shape, dtype, a_t), operand(rng, b_shape, dtype, b_t)
    want = np.matmul(a, b)
    got = blas.matmul(np, a, b)
    assert got.shape == want.shape and got.dtype == dtype
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())
    out = np.full(want.shape, np.nan, dtype)
    assert blas.matmul(np, a, b, out=out) is out
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.abs(want).max())


def test_strided_operands_and_outputs_are_handled():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((400, 300))[::2, ::3]  # no unit stride at all: copied
    b = rng.standard_normal((100, 500))
    out = np.empty((200, 1000))[:, ::2]  # a strided output
    blas.matmul(np, a, b, out=out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def test_one_thread_and_the_reference_switch_give_numpys_result():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((300, 400)), rng.standard_normal((400, 500))
    with jit.reference_kernels():
        np.testing.assert_array_equal(blas.matmul(np, a, b), np.matmul(a, b))
    before = jit.threads()
    try:
        jit.set_threads(1)
        np.testing.assert_allclose(blas.matmul(np, a, b), a @ b, rtol=1e-12)
    finally:
        jit.set_threads(before)


def test_set_threads_refuses_counts_the_pool_cannot_run():
    for bad in (0, jit.max_threads() + 1):
        with pytest.raises(ValueError, match="threads must be between 1 and"):
            jit.set_threads(bad)
