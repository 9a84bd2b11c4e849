import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import linear


def make(bias, seed=0):
    rng = np.random.default_rng(seed)
    params = {"weight": rng.standard_normal((3, 5))}
    if bias:
        params["bias"] = rng.standard_normal(3)
    return rng.standard_normal((4, 5)), params


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradient(bias):
    x, params = make(bias)
    check_kernel(linear, [x], params, {})


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(dtype, rtol, bias):
    torch = pytest.importorskip("torch")
    x, params = make(bias, seed=2)
    x = x.astype(dtype)
    params = {k: v.astype(dtype) for k, v in params.items()}
    dy = np.random.default_rng(3).standard_normal((4, 3)).astype(dtype)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.linear(tx, t["weight"], t.get("bias"))
    ty.backward(torch.tensor(dy))

    y, saved = linear.forward(np, [x], params, {}, True)
    (dx,), dparams = linear.backward(np, dy, saved, params, {})
    assert y.dtype == dx.dtype == dtype
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=rtol)
    assert set(dparams) == set(params)
    for name, g in dparams.items():
        np.testing.assert_allclose(g, t[name].grad.numpy(), rtol=rtol, atol=rtol)
