from types import SimpleNamespace

import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import dropout


def fixed_mask(seed):
    """dropout with a fresh generator on every forward call, so each draws the same mask."""
    def forward(xp, inputs, params, attrs, training):
        return dropout.forward(xp, inputs, params, attrs, training,
                               rng=np.random.default_rng(seed))
    return SimpleNamespace(forward=forward, backward=dropout.backward)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5])
@pytest.mark.parametrize("training", [True, False])
def test_dropout_gradient(p, training):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    check_kernel(fixed_mask(5), [x], {}, {"p": p}, training=training)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_training_scales_kept_and_zeroes_the_rest(dtype):
    x = np.random.default_rng(0).uniform(1, 2, (64, 8, 8, 8)).astype(dtype)
    p = 0.3
    y, mask = dropout.forward(np, [x], {}, {"p": p}, True, rng=np.random.default_rng(1))
    assert y.dtype == mask.dtype == dtype
    kept = y != 0
    np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)
    assert abs(kept.mean() - (1 - p)) < 0.01  # 32768 draws: the keep rate is close to 1 - p
    (dx,), _ = dropout.backward(np, np.ones_like(x), mask, {}, {"p": p})
    np.testing.assert_array_equal(dx != 0, kept)


def test_dropout_evaluation_is_identity_and_needs_no_rng():
    x = np.random.default_rng(0).standard_normal((3, 4))
    y, saved = dropout.forward(np, [x], {}, {"p": 0.5}, False)
    assert y is x and saved is None


def test_dropout_training_without_rng_is_refused():
    with pytest.raises(ValueError, match="rng"):
        dropout.forward(np, [np.ones((2, 2))], {}, {"p": 0.5}, True)


def test_dropout_same_seed_same_mask():
    x = np.ones((4, 5))
    a, _ = dropout.forward(np, [x], {}, {"p": 0.5}, True, rng=np.random.default_rng(9))
    b, _ = dropout.forward(np, [x], {}, {"p": 0.5}, True, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)


def test_dropout_asks_the_executor_for_rng():
    assert dropout.USES_RNG is True
