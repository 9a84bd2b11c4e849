import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import lrn

SHAPES = [(2, 6), (2, 5, 2, 3)]  # vectors (N, C) and maps (N, C, H, W)


def attrs(size):
    # alpha large enough that the normaliser really depends on the neighbours
    return {"size": size, "alpha": 0.5, "beta": 0.75, "k": 2.0}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8])
def test_lrn_gradient(shape, size):
    x = np.random.default_rng(size).standard_normal(shape)
    check_kernel(lrn, [x], {}, attrs(size))


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("shape", [(2, 6), (2, 7, 3, 4), (1, 4, 2, 2, 3)])
@pytest.mark.parametrize("size", [2, 3, 4, 5])
def test_lrn_matches_torch(dtype, rtol, shape, size):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype) * 3
    dy = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    a = attrs(size)
    # PyTorch wants at least 3 axes: a vector (N, C) is (N, C, 1) there
    tx = torch.tensor(x.reshape(*shape, 1) if len(shape) == 2 else x, requires_grad=True)
    ty = torch.nn.functional.local_response_norm(tx, size, a["alpha"], a["beta"], a["k"])
    ty.backward(torch.tensor(dy).reshape(ty.shape))

    y, saved = lrn.forward(np, [x], {}, a, True)
    (dx,), _ = lrn.backward(np, dy, saved, {}, a)
    assert y.dtype == dx.dtype == dtype
    np.testing.assert_allclose(y, ty.detach().numpy().reshape(shape), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dx, tx.grad.numpy().reshape(shape), rtol=rtol, atol=rtol)
