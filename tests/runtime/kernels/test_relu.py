import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import relu


def test_relu_gradient():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    check_kernel(relu, [x], {}, {})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 4)).astype(dtype)
    dy = np.random.default_rng(3).standard_normal(x.shape).astype(dtype)
    t = torch.tensor(x, requires_grad=True)
    torch.relu(t).backward(torch.tensor(dy))
    y, saved = relu.forward(np, [x], {}, {}, True)
    (dx,), _ = relu.backward(np, dy, saved, {}, {})
    np.testing.assert_array_equal(y, torch.relu(torch.tensor(x)).numpy())
    np.testing.assert_array_equal(dx, t.grad.numpy())
