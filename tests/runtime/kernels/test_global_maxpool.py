import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import global_maxpool

SHAPES = [(2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 4, 2), (2, 2, 1, 1)]


def distinct(shape, seed=0):
    """Values at least 0.1 apart (no ties: the max is differentiable), shuffled."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 - n * 0.05


@pytest.mark.parametrize("shape", SHAPES)
def test_global_maxpool_gradient(shape):
    check_kernel(global_maxpool, [distinct(shape)], {}, {})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("shape", [(4, 8, 13), (4, 8, 7, 7), (2, 16, 28, 28), (2, 4, 3, 5, 6)])
def test_global_maxpool_matches_torch(dtype, ties, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    # Ties (small integers): the first maximum in row-major order gets the gradient.
    x = (rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
    f = [None, torch.nn.functional.adaptive_max_pool1d, torch.nn.functional.adaptive_max_pool2d,
         torch.nn.functional.adaptive_max_pool3d][len(shape) - 2]
    tx = torch.tensor(x, requires_grad=True)
    ty = f(tx, 1)
    dy = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(dy))

    y, saved = global_maxpool.forward(np, [x], {}, {}, True)
    (dx,), _ = global_maxpool.backward(np, dy, saved, {}, {})
    assert y.dtype == dx.dtype == dtype and y.shape == shape[:2] + (1,) * (len(shape) - 2)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())
