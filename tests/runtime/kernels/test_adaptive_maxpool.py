import numpy as np
import pytest
from gradcheck import check_kernel, routed_gradient

from cnnc_runtime.kernels import adaptive_maxpool


def distinct(shape, seed=0):
    """Values at least 0.1 apart (no ties: the max is differentiable), shuffled."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 - n * 0.05


CASES = [  # input shape, out
    ((2, 2, 8), (4,)),
    ((1, 2, 7), (3,)),  # bins overlap: 7 -> 3
    ((1, 2, 3), (5,)),  # more outputs than inputs: cells shared by bins
    ((2, 2, 6, 5), (3, 2)),
    ((1, 2, 7, 9), (4, 5)),
    ((1, 1, 5, 4), (5, 1)),
    ((1, 1, 3, 4), (4, 7)),
    ((1, 2, 4, 5, 6), (2, 3, 4)),
    ((1, 1, 3, 5, 4), (1, 1, 1)),
]


@pytest.mark.parametrize("shape, out", CASES)
def test_adaptive_maxpool_gradient(shape, out):
    check_kernel(adaptive_maxpool, [distinct(shape)], {}, {"out": out})


TORCH_CASES = [
    ((2, 3, 10), (4,)),
    ((2, 3, 5), (7,)),
    ((2, 3, 14, 14), (7, 7)),
    ((2, 3, 13, 11), (6, 4)),
    ((1, 4, 5, 9), (8, 3)),
    ((1, 2, 30, 17), (1, 2)),  # wide bins
    ((2, 2, 7, 9, 10), (3, 4, 5)),
    ((1, 2, 4, 4, 4), (6, 1, 3)),
]


def _box_max(x, out):
    """The plain definition: the maximum over each box of PyTorch's bins, pixel by pixel."""
    y = np.empty(x.shape[:2] + out, dtype=x.dtype)
    for o in np.ndindex(*out):
        box = tuple(slice(i * n // m, -(-(i + 1) * n // m))
                    for i, n, m in zip(o, x.shape[2:], out))
        y[(...,) + o] = x[(...,) + box].max(axis=tuple(range(2, x.ndim)))
    return y


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("shape, out", TORCH_CASES)
def test_adaptive_maxpool_matches_torch(dtype, rtol, ties, shape, out):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    # Ties (small integers) check the rule that the first maximum in row-major order wins.
    x = (rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
    f = [None, torch.nn.functional.adaptive_max_pool1d, torch.nn.functional.adaptive_max_pool2d,
         torch.nn.functional.adaptive_max_pool3d][len(shape) - 2]
    tx = torch.tensor(x, requires_grad=True)
    ty, ti = f(tx, out, return_indices=True)
    dy = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(dy))

    y, saved = adaptive_maxpool.forward(np, [x], {}, {"out": out}, True)
    (dx,), _ = adaptive_maxpool.backward(np, dy, saved, {}, {"out": out})
    assert y.dtype == dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(y, _box_max(x, out))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=rtol)
    # Every dy lands on the cell PyTorch's returned index names.
    want = routed_gradient(ti.numpy(), dy, shape[2:])
    np.testing.assert_allclose(dx.reshape(want.shape), want, rtol=rtol, atol=rtol)
