import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import global_avgpool

SHAPES = [(2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 4, 2), (2, 2, 1, 1)]


@pytest.mark.parametrize("shape", SHAPES)
def test_global_avgpool_gradient(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    check_kernel(global_avgpool, [x], {}, {})


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape", [(4, 8, 13), (4, 8, 7, 7), (2, 16, 28, 28), (2, 4, 3, 5, 6)])
def test_global_avgpool_matches_torch(dtype, rtol, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    f = [None, torch.nn.functional.adaptive_avg_pool1d, torch.nn.functional.adaptive_avg_pool2d,
         torch.nn.functional.adaptive_avg_pool3d][len(shape) - 2]
    tx = torch.tensor(x, requires_grad=True)
    ty = f(tx, 1)
    dy = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(dy))

    y, saved = global_avgpool.forward(np, [x], {}, {}, True)
    (dx,), _ = global_avgpool.backward(np, dy, saved, {}, {})
    assert y.dtype == dx.dtype == dtype and y.shape == shape[:2] + (1,) * (len(shape) - 2)
    assert dx.flags.writeable and dx.shape == x.shape
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=rtol)
