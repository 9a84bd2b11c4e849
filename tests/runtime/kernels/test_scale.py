"""scale: the gradient check, and PyTorch's product with an nn.Parameter broadcast over the
channels (forward, input and weight gradients)."""

import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import scale

SHAPES = [(2, 3, 4, 5), (3, 6), (2, 4, 7), (2, 2, 3, 2, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_scale_gradient(shape):
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(shape), rng.standard_normal(shape[1])
    check_kernel(scale, [x], {"weight": w}, {})


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("shape", SHAPES)
def test_scale_matches_a_torch_parameter_product(shape, dtype, rtol):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal(shape[1]).astype(dtype)
    dy = rng.standard_normal(shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.nn.Parameter(torch.tensor(w))
    ty = tx * tw.reshape(-1, *(1,) * (len(shape) - 2))  # LayerScale's gamma[:, None, None] * x
    ty.backward(torch.tensor(dy))
    y, saved = scale.forward(np, [x], {"weight": w}, {}, True)
    (dx,), grads = scale.backward(np, dy, saved, {"weight": w}, {})
    assert y.dtype == dx.dtype == grads["weight"].dtype == dtype
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol)
    np.testing.assert_allclose(grads["weight"], tw.grad.numpy(), rtol=rtol, atol=rtol)
