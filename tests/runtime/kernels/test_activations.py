"""relu6, leaky_relu, sigmoid, silu, gelu, hardswish, hardsigmoid, tanh, softmax, identity,
one_minus."""

import warnings

import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import (
    gelu,
    hardsigmoid,
    hardswish,
    identity,
    leaky_relu,
    one_minus,
    relu6,
    sigmoid,
    silu,
    softmax,
    tanh,
)

SHAPES = [(3, 4), (2, 3, 2, 3)]

CASES = {  # name: (kernel, attrs, torch reference as text, evaluated once torch is imported)
    "relu6": (relu6, {}, "F.relu6(t)"),
    "leaky_relu": (leaky_relu, {"negative_slope": 0.01}, "F.leaky_relu(t, 0.01)"),
    "leaky_relu_steep": (leaky_relu, {"negative_slope": 0.3}, "F.leaky_relu(t, 0.3)"),
    "leaky_relu_negative": (leaky_relu, {"negative_slope": -0.5}, "F.leaky_relu(t, -0.5)"),
    "sigmoid": (sigmoid, {}, "torch.sigmoid(t)"),
    "silu": (silu, {}, "F.silu(t)"),
    "gelu": (gelu, {"approximate": "none"}, "F.gelu(t)"),
    "gelu_tanh": (gelu, {"approximate": "tanh"}, "F.gelu(t, approximate='tanh')"),
    "hardswish": (hardswish, {}, "F.hardswish(t)"),
    # PyTorch's definition: F.hardsigmoid's float64 backward scales by 1/6 as a float32
    # constant, 3e-8 off (test_hard_activations_at_the_kinks compares with it)
    "hardsigmoid": (hardsigmoid, {}, "F.relu6(t + 3) / 6"),
    "tanh": (tanh, {}, "torch.tanh(t)"),
    "softmax": (softmax, {}, "F.softmax(t, dim=1)"),
    "identity": (identity, {}, "t"),
    "one_minus": (one_minus, {}, "1 - t"),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(CASES))
def test_activation_gradient(name, shape):
    kernel, attrs, _ = CASES[name]
    x = np.random.default_rng(0).standard_normal(shape) * 4 + 2  # spans relu6's 0 and 6
    check_kernel(kernel, [x], {}, attrs)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("name", list(CASES))
def test_activation_matches_torch(name, dtype, rtol):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional  # noqa: F841 (used by the reference expressions)
    kernel, attrs, reference = CASES[name]
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((4, 5, 3)) * 8).astype(dtype)
    x[0, :, 0] = [0, 6, -6, 30, -30]  # the kinks, and values far out in both tails
    dy = rng.standard_normal(x.shape).astype(dtype)
    t = torch.tensor(x, requires_grad=True)
    ty = eval(reference)
    ty.backward(torch.tensor(dy))

    y, saved = kernel.forward(np, [x], {}, attrs, True)
    (dx,), dparams = kernel.backward(np, dy, saved, {}, attrs)
    assert y.dtype == dx.dtype == dtype and dparams == {}
    # atol: 1 - y**2 and y * (1 - y) cancel near saturation, in PyTorch too
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=rtol, atol=rtol / 10)
    np.testing.assert_allclose(dx, t.grad.numpy(), rtol=rtol, atol=rtol / 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_far_out(dtype):
    x = np.array([[-100, -30, 0, 30, 100]], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        y, saved = sigmoid.forward(np, [x], {}, {}, True)
        (dx,), _ = sigmoid.backward(np, np.ones_like(x), saved, {}, {})
    assert y.dtype == dtype and np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    assert y[0, 0] > 0 and y[0, 2] == 0.5 and y[0, 4] == 1
    np.testing.assert_allclose(y[0, 1], np.exp(-30) / (1 + np.exp(-30)), rtol=1e-6)


def test_softmax_is_stable_far_out():
    x = np.array([[1000.0, 0.0, -1000.0]], dtype=np.float32)
    y, _ = softmax.forward(np, [x], {}, {}, True)
    np.testing.assert_array_equal(y, [[1, 0, 0]])


def test_identity_is_a_view():
    x = np.ones((2, 3))
    assert identity.forward(np, [x], {}, {}, True)[0] is x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid"])
def test_hard_activations_at_the_kinks(name, dtype):
    """PyTorch's gradient at x = -3 and 3, and its exact forward values around them."""
    torch = pytest.importorskip("torch")
    kernel, op = CASES[name][0], getattr(torch.nn.functional, name)
    x = np.array([-4, -3, -2.5, -1e-3, 0, 1e-3, 2.5, 3, 4], dtype=dtype)
    dy = np.linspace(0.5, 2, x.size, dtype=dtype)
    t = torch.tensor(x, requires_grad=True)
    op(t).backward(torch.tensor(dy))
    y, saved = kernel.forward(np, [x], {}, {}, True)
    (dx,), _ = kernel.backward(np, dy, saved, {}, {})
    np.testing.assert_array_equal(y, op(torch.tensor(x)).numpy())
    if name == "hardswish":
        np.testing.assert_array_equal(dx, t.grad.numpy())
    else:  # PyTorch multiplies by 1/6 rounded to float32: an ulp in float32, 3e-8 in float64
        np.testing.assert_allclose(dx, t.grad.numpy(), rtol=2e-7, atol=0)
