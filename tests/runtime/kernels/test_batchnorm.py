import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import batchnorm

SHAPES = [(4, 3), (3, 2, 3, 2), (2, 2, 2, 3, 2)]  # (N, C), (N, C, H, W), (N, C, D, H, W)


def make(shape, affine, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 0.5
    params = {"running_mean": rng.standard_normal(c), "running_var": rng.uniform(0.5, 2, c)}
    if affine:
        params |= {"weight": rng.uniform(0.5, 1.5, c), "bias": rng.standard_normal(c)}
    return x, params


ATTRS = {"eps": 1e-5, "momentum": 0.1}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradient(shape, affine, training):
    x, params = make(shape, affine)
    check_kernel(batchnorm, [x], params, ATTRS, training=training)


def test_not_affine_returns_no_param_gradients():
    x, params = make((3, 2, 2, 2), affine=False)
    y, saved = batchnorm.forward(np, [x], params, ATTRS, True)
    assert batchnorm.backward(np, np.ones_like(y), saved, params, ATTRS)[1] == {}


def test_channel_stats_and_scale_shift_reproduce_forward():
    x, params = make((3, 4, 2, 5), affine=True)
    mean, var = batchnorm.channel_stats(np, x)
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=(0, 2, 3)), rtol=1e-12)
    inv_std = 1 / np.sqrt(var + ATTRS["eps"])
    scale, shift = batchnorm.scale_shift(np, mean, inv_std, params["weight"], params["bias"])
    y, _ = batchnorm.forward(np, [x], dict(params), ATTRS, True)
    np.testing.assert_allclose(y, x * scale[:, None, None] + shift[:, None, None], rtol=1e-10)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_torch(dtype, rtol, shape, affine, training):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x, params = make(shape, affine, seed=3)
    x = x.astype(dtype)
    params = {k: v.astype(dtype) for k, v in params.items()}
    dy = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    attrs = {"eps": 1e-3, "momentum": 0.3}
    t = {k: torch.tensor(v, requires_grad="running" not in k) for k, v in params.items()}
    tx = torch.tensor(x, requires_grad=True)
    ty = F.batch_norm(tx, t["running_mean"], t["running_var"], t.get("weight"), t.get("bias"),
                      training=training, momentum=attrs["momentum"], eps=attrs["eps"])
    ty.backward(torch.tensor(dy))

    y, saved = batchnorm.forward(np, [x], params, attrs, training)
    assert y.dtype == dtype
    atol = rtol * 10
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=rtol, atol=atol)
    for name in ("running_mean", "running_var"):  # updated in place in training
        assert params[name].dtype == dtype
        np.testing.assert_allclose(params[name], t[name].numpy(), rtol=rtol, atol=atol)
    (dx,), dparams = batchnorm.backward(np, dy, saved, params, attrs)
    assert dx.dtype == dtype
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=atol)
    for name, g in dparams.items():
        assert g.dtype == dtype
        np.testing.assert_allclose(g, t[name].grad.numpy(), rtol=rtol, atol=atol)
    assert set(dparams) == ({"weight", "bias"} if affine else set())
