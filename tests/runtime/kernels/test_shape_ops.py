"""flatten, reshape: views forward, dy reshaped back."""

import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import flatten, reshape


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4), (2, 3, 2, 2), (2, 1, 2, 2, 3)])
def test_flatten_gradient_and_view(shape):
    x = np.random.default_rng(0).standard_normal(shape)
    check_kernel(flatten, [x], {}, {})
    y, _ = flatten.forward(np, [x], {}, {}, True)
    assert y.shape == (shape[0], int(np.prod(shape[1:]))) and np.shares_memory(x, y)


@pytest.mark.parametrize("shape, new", [((2, 12), (3, 4)), ((2, 3, 2, 2), (12,)),
                                        ((2, 3, 4), (2, 2, 3)), ((2, 6, 1, 2), (3, 4, 1))])
def test_reshape_gradient_and_view(shape, new):
    x = np.random.default_rng(1).standard_normal(shape)
    check_kernel(reshape, [x], {}, {"shape": new})
    y, saved = reshape.forward(np, [x], {}, {"shape": list(new)}, True)
    assert y.shape == (shape[0], *new) and np.shares_memory(x, y)
    (dx,), _ = reshape.backward(np, np.ones_like(y), saved, {}, {"shape": list(new)})
    assert dx.shape == shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["flatten", "reshape"])
def test_shape_ops_match_torch(op, dtype):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 2, 2)).astype(dtype)
    if op == "flatten":
        y, _ = flatten.forward(np, [x], {}, {}, True)
        np.testing.assert_array_equal(y, torch.flatten(torch.tensor(x), 1).numpy())
    else:
        y, _ = reshape.forward(np, [x], {}, {"shape": (4, 3)}, True)
        np.testing.assert_array_equal(y, torch.tensor(x).reshape(2, 4, 3).numpy())
    assert y.dtype == dtype
