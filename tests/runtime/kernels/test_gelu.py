"""The erfc under GELU against math.erfc, its compiled twin, and GELU's far tails (the
gradient checks and PyTorch comparisons are in test_activations.py)."""

import math
import warnings

import numpy as np
import pytest

from cnnc_runtime.kernels import gelu

# Cody's three ranges and their ends, tiny magnitudes, and out to where erfc leaves the normal
# floats (erfc(26.5) = 1.2e-307).
X = np.concatenate([np.linspace(-8, 26.5, 100_001), np.geomspace(1e-300, 4, 2_000),
                    -np.geomspace(1e-300, 4, 2_000), [0.0, 0.46875, -0.46875, 4.0, -4.0]])


def test_erfc_matches_math_erfc_to_1e_15():
    want = np.array([math.erfc(v) for v in X])
    got = gelu.erfc(np, X)
    assert np.max(np.abs(got - want) / want) < 1e-15


def test_erfc_far_out_and_at_the_specials():
    x = np.array([-np.inf, -40.0, 28.0, 40.0, np.inf, np.nan])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        got = gelu.erfc(np, x)
    np.testing.assert_array_equal(got[:5], [2, 2, 0, 0, 0])
    assert np.isnan(got[5])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_erfc_keeps_the_dtype(dtype):
    x = np.linspace(-5, 9, 10_001).astype(dtype)  # erfc(9.1) is float32's smallest normal
    got = gelu.erfc(np, x)
    want = np.array([math.erfc(v) for v in x.astype(np.float64)])  # the same, rounded inputs
    assert got.dtype == dtype
    tol = 1e-15 if dtype == np.float64 else 1e-6  # float32: Cody's steps rounded in float32
    assert np.max(np.abs(got - want) / want) < tol


@pytest.mark.twins
# float32: the reference rounds -x / sqrt(2) to float32, which moves Phi by 2 (x / sqrt(2))^2
# ulps relative (1e-5 at x = -13, where Phi nears float32's smallest normal); the twin does not.
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float32, 1e-5, 1e-37), (np.float64, 2e-15, 0)])
def test_compiled_cdf_matches_its_reference(dtype, rtol, atol):
    x = (np.random.default_rng(0).standard_normal((3, 4, 50)) * 6).astype(dtype)
    x[0, 0, :4] = [0, -37, 8, -8]
    compiled = gelu.cdf(np, x)
    assert compiled.dtype == dtype
    with gelu.jit.reference_kernels():
        reference = gelu.cdf(np, x)
    np.testing.assert_allclose(compiled, reference, rtol=rtol, atol=atol)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_left_tail_keeps_its_digits(approximate):
    """Where 1 + erf(x / sqrt(2)) cancels (PyTorch's form), x Phi(x) still has every digit."""
    x = np.array([-6.0, -10.0, -20.0])
    y, saved = gelu.forward(np, [x], {}, {"approximate": approximate}, True)
    if approximate == "none":  # x / sqrt(2) rounded as the kernel rounds it
        want = [v * math.erfc(v * -math.sqrt(0.5)) / 2 for v in x]
    else:  # x (1 + tanh(u)) / 2 = x / (1 + exp(-2u))
        u = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        want = x / (1 + np.exp(-2 * u))
    np.testing.assert_allclose(y, want, rtol=1e-13)
    assert np.all(y < 0)
    (dx,), _ = gelu.backward(np, np.ones_like(x), saved, {}, {"approximate": approximate})
    assert np.all(np.isfinite(dx))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_is_finite_far_out(dtype, approximate):
    x = np.array([-1e4, -100, -30, 0, 30, 100, 1e4], dtype=dtype)
    attrs = {"approximate": approximate}
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        y, saved = gelu.forward(np, [x], {}, attrs, True)
        (dx,), _ = gelu.backward(np, np.ones_like(x), saved, {}, attrs)
    assert y.dtype == dx.dtype == dtype
    np.testing.assert_array_equal(y[3:], x[3:])  # Phi = 1 exactly from x = 8.3 on
    np.testing.assert_allclose(dx, [0, 0, 0, 0.5, 1, 1, 1], rtol=0, atol=1e-30)
