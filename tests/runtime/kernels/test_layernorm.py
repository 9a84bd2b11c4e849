import numpy as np
import pytest
from gradcheck import check_kernel
from test_groupnorm import make, matches

from cnnc_runtime.kernels import layernorm

SHAPES = [(3, 4), (2, 3, 4), (2, 4, 3, 2), (2, 3, 2, 2, 3)]  # (N, C), (N, C, L), ...


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_gradient(shape, affine):
    x, params = make(shape, affine)
    check_kernel(layernorm, [x], params, {"eps": 1e-5})


def test_each_position_is_normalised_on_its_own():
    x, _ = make((2, 5, 3, 4), affine=False)
    y, _ = layernorm.forward(np, [x], {}, {"eps": 0.0}, True)
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), 1, rtol=1e-12)


# float32 is compared with PyTorch in float64 on the same float32 values (test_groupnorm.py)
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_matches_torch_on_channels_last(dtype, tol, shape, affine):
    """PyTorch's LayerNorm(C) on the channels moved last, as ConvNeXt's LayerNorm2d does."""
    torch = pytest.importorskip("torch")
    x, params = make(shape, affine, seed=3)
    x = x.astype(dtype) + 10  # a mean far from 0, against one-pass variances
    params = {k: v.astype(dtype) for k, v in params.items()}
    dy = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    eps = 1e-6
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ty = torch.nn.functional.layer_norm(tx.movedim(1, -1), (shape[1],), t.get("weight"),
                                        t.get("bias"), eps).movedim(-1, 1)
    ty.backward(torch.tensor(dy, dtype=torch.float64))

    matches(layernorm, x, dy, params, {"eps": eps}, (ty, tx, t), tol)
