from types import SimpleNamespace

import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import drop_path


def fixed_mask(seed):
    """drop_path with a fresh generator on every forward call, so each draws the same mask."""
    def forward(xp, inputs, params, attrs, training):
        return drop_path.forward(xp, inputs, params, attrs, training,
                                 rng=np.random.default_rng(seed))
    return SimpleNamespace(forward=forward, backward=drop_path.backward)


@pytest.mark.parametrize("p", [0.0, 0.4])
@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("training", [True, False])
def test_drop_path_gradient(p, mode, training):
    x = np.random.default_rng(0).standard_normal((6, 3, 4, 2))
    check_kernel(fixed_mask(5), [x], {}, {"p": p, "mode": mode}, training=training)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_drop_path_drops_whole_samples_and_scales_the_rest(dtype):
    x = np.random.default_rng(0).uniform(1, 2, (4096, 3, 2, 2)).astype(dtype)
    p = 0.3
    y, mask = drop_path.forward(np, [x], {}, {"p": p, "mode": "row"}, True,
                                rng=np.random.default_rng(1))
    assert y.dtype == mask.dtype == dtype and mask.shape == (4096, 1, 1, 1)
    kept = (y != 0).reshape(len(x), -1)
    assert (kept.all(axis=1) | ~kept.any(axis=1)).all()  # a sample is kept or dropped whole
    np.testing.assert_allclose(y[kept.all(axis=1)], x[kept.all(axis=1)] / (1 - p), rtol=1e-6)
    assert abs(kept.all(axis=1).mean() - (1 - p)) < 0.03  # 4096 draws: close to 1 - p
    (dx,), _ = drop_path.backward(np, np.ones_like(x), mask, {}, {"p": p, "mode": "row"})
    np.testing.assert_array_equal(dx != 0, y != 0)


def test_drop_path_batch_mode_keeps_or_drops_the_whole_batch():
    x = np.ones((8, 2, 3))
    outcomes = set()
    for seed in range(40):
        y, mask = drop_path.forward(np, [x], {}, {"p": 0.5, "mode": "batch"}, True,
                                    rng=np.random.default_rng(seed))
        assert mask.shape == (1, 1, 1) and len(np.unique(y)) == 1
        outcomes.add(float(y.flat[0]))
    assert outcomes == {0.0, 2.0}


def test_drop_path_evaluation_is_identity_and_needs_no_rng():
    x = np.random.default_rng(0).standard_normal((3, 4))
    y, saved = drop_path.forward(np, [x], {}, {"p": 0.5, "mode": "row"}, False)
    assert y is x and saved is None


def test_drop_path_training_without_rng_is_refused():
    with pytest.raises(ValueError, match="rng"):
        drop_path.forward(np, [np.ones((2, 2))], {}, {"p": 0.5, "mode": "row"}, True)


def test_drop_path_asks_the_executor_for_rng():
    assert drop_path.USES_RNG is True
