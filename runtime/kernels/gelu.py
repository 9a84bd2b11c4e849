"""Gelu kernels. Shape rule: cnnc/ops/gelu.py.

NumPy has no erf, and SciPy is not a dependency, so `erfc` here is W. J. Cody's rational
Chebyshev approximation ("Rational Chebyshev approximations for the error function", Math.
Comp. 23, 1969; the coefficients of SPECFUN's CALERF): within 1e-15 of math.erfc, relative, in
float64 wherever erfc is a normal float (x < 26.5).
GELU reads Phi(x) = erfc(-x / sqrt(2)) / 2, not PyTorch's (1 + erf(x / sqrt(2))) / 2: the same
function, without the cancellation that leaves the left tail (x < -5) with few correct digits.

On the CPU, Phi is a compiled loop calling the C library's erfc (in float64, rounded once to
the output's dtype): 6x faster than the NumPy body, whose three ranges are each evaluated over
the whole array; a test holds the two together.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import prange

from cnnc_runtime import jit
from cnnc_runtime.kernels import sigmoid
from cnnc_runtime.kernels.relu import compiled_for

# Numerators and denominators, highest degree first (Horner order), Cody's three ranges.
_ERF_NUM = (1.85777706184603153e-1, 3.16112374387056560e0, 1.13864154151050156e2,
            3.77485237685302021e2, 3.20937758913846947e3)
_ERF_DEN = (1.0, 2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3,
            2.84423683343917062e3)
_MID_NUM = (2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e0,
            6.61191906371416295e1, 2.98635138197400131e2, 8.81952221241769090e2,
            1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3)
_MID_DEN = (1.0, 1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2,
            1.62138957456669019e3, 3.29079923573345963e3, 4.36261909014324716e3,
            3.43936767414372164e3, 1.23033935480374942e3)
_TAIL_NUM = (1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
             1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4)
_TAIL_DEN = (1.0, 2.56852019228982242e0, 1.87295284992346047e0, 5.27905102951428412e-1,
             6.05183413124413191e-2, 2.33520497626869185e-3)
_SMALL, _MID = 0.46875, 4.0  # range ends: erf(x) = x R(x^2) below, erfc(y) = exp(-y^2) R(y) to 4
_UNDERFLOW = 28.0  # erfc(28) < exp(-784), below the smallest float64 subnormal: 0

SQRT1_2 = math.sqrt(0.5)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
TANH_BETA, TANH_KAPPA = math.sqrt(2 / math.pi), 0.044715  # PyTorch's approximate='tanh'


def _horner(xp: Any, coeffs: tuple[float, ...], t: Any) -> Any:
    """coeffs[0] t^n + ... + coeffs[n] in t's dtype, in Cody's order of operations."""
    r = xp.full_like(t, coeffs[0])
    for c in coeffs[1:]:
        r *= t
        r += c
    return r


def erfc(xp: Any, x: Any) -> Any:
    """The complementary error function 1 - erf(x), elementwise, accurate in both tails.

    Each range is evaluated on x clamped into it, so no branch sees an argument that overflows
    it (1/y^2 at 0, exp at inf), and `where` picks the right one per element.
    """
    xs = xp.clip(x, -_SMALL, _SMALL)
    t = xs * xs
    small = 1 - xs * _horner(xp, _ERF_NUM, t) / _horner(xp, _ERF_DEN, t)
    y = xp.clip(xp.abs(x), _SMALL, _UNDERFLOW)
    # exp(-y^2) as exp(-r^2) exp(-(y - r)(y + r)), r = y rounded down to 1/16: r^2 is exact,
    # so the rounding of y^2 (6e-14 near y = 28), which exp makes relative, stays out (Cody's).
    r = xp.floor(y * 16) / 16
    gauss = xp.exp(-r * r) * xp.exp(-(y - r) * (y + r))
    ym = xp.minimum(y, _MID)
    mid = _horner(xp, _MID_NUM, ym) / _horner(xp, _MID_DEN, ym)
    yt = xp.maximum(y, _MID)
    z = 1 / (yt * yt)
    tail = (1 / math.sqrt(math.pi) - z * _horner(xp, _TAIL_NUM, z) / _horner(xp, _TAIL_DEN, z)) / yt
    large = gauss * xp.where(y <= _MID, mid, tail)  # erfc(|x|)
    return xp.where(xp.abs(x) <= _SMALL, small, xp.where(x < 0, 2 - large, large))


def cdf(xp: Any, x: Any) -> Any:
    """Phi(x) = erfc(-x / sqrt(2)) / 2, the standard normal CDF, elementwise."""
    if compiled_for(xp, x):
        p = np.empty_like(x)
        _cdf(x.reshape(-1), p.reshape(-1))
        return p
    return erfc(xp, x * -SQRT1_2) / 2


@jit.compiled(parallel=True)
def _cdf(x: Any, p: Any) -> None:
    for i in prange(x.shape[0]):
        p[i] = math.erfc(x[i] * -SQRT1_2) / 2  # float64 inside: SQRT1_2 is a float64 constant


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y = x Phi(x), or x (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3); any shape."""
    (x,) = inputs
    if attrs["approximate"] == "tanh":
        u = x * x
        u *= 2 * TANH_BETA * TANH_KAPPA
        u += 2 * TANH_BETA
        u *= x  # 2u
        p, _ = sigmoid.forward(xp, [u], {}, {}, training)  # (1 + tanh(u)) / 2, no cancellation
    else:
        p = cdf(xp, x)
    return x * p, (x, p)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict) -> tuple[list, dict]:
    """dx = dy (Phi(x) + x phi(x)), phi the normal density; for tanh, the same rule on
    p = sigmoid(2u): dx = dy (p + x p (1 - p) 2u')."""
    x, p = saved
    if attrs["approximate"] == "tanh":
        dx = x * x
        dx *= 6 * TANH_BETA * TANH_KAPPA
        dx += 2 * TANH_BETA  # 2u'
        dx *= 1 - p
        dx *= p
    else:
        dx = x * x
        dx *= -0.5
        xp.exp(dx, out=dx)
        dx *= INV_SQRT_2PI  # phi(x)
    dx *= x
    dx += p
    dx *= dy
    return [dx], {}
