import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import adaptive_avgpool

CASES = [  # input shape, out
    ((2, 2, 8), (4,)),
    ((1, 2, 7), (3,)),  # bins overlap: 7 -> 3
    ((1, 2, 3), (5,)),  # more outputs than inputs
    ((2, 2, 6, 5), (3, 2)),
    ((1, 2, 7, 9), (4, 5)),
    ((1, 1, 5, 4), (5, 1)),  # one axis unchanged
    ((1, 2, 4, 5, 6), (2, 3, 4)),
    ((1, 1, 3, 5, 4), (1, 1, 1)),
]


@pytest.mark.parametrize("shape, out", CASES)
def test_adaptive_avgpool_gradient(shape, out):
    x = np.random.default_rng(0).standard_normal(shape)
    check_kernel(adaptive_avgpool, [x], {}, {"out": out})


TORCH_CASES = [
    ((2, 3, 10), (4,)),
    ((2, 3, 5), (7,)),
    ((2, 3, 14, 14), (7, 7)),
    ((2, 3, 7, 7), (7, 7)),  # VGG on 224x224 input: identity
    ((2, 3, 13, 11), (6, 4)),
    ((1, 4, 5, 9), (8, 3)),
    ((2, 2, 7, 9, 10), (3, 4, 5)),
    ((1, 2, 4, 4, 4), (6, 1, 3)),
]


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape, out", TORCH_CASES)
def test_adaptive_avgpool_matches_torch(dtype, rtol, shape, out):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    f = [None, torch.nn.functional.adaptive_avg_pool1d, torch.nn.functional.adaptive_avg_pool2d,
         torch.nn.functional.adaptive_avg_pool3d][len(shape) - 2]
    tx = torch.tensor(x, requires_grad=True)
    ty = f(tx, out)
    dy = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(dy))

    y, saved = adaptive_avgpool.forward(np, [x], {}, {"out": out}, True)
    (dx,), _ = adaptive_avgpool.backward(np, dy, saved, {}, {"out": out})
    assert y.dtype == dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=rtol)
