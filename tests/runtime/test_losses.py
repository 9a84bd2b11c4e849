import numpy as np
import pytest
from gradcheck import ATOL, RTOL, numeric_grad

from cnnc_runtime.losses import mse, softmax_cross_entropy

CE_SHAPES = [((4, 5), (4,)), ((2, 3, 2, 3), (2, 2, 3)), ((2, 3, 4), (2, 4))]  # logits, labels


def ce_case(logits_shape, labels_shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(logits_shape) * 3).astype(dtype)
    return logits, rng.integers(0, logits_shape[1], labels_shape)


@pytest.mark.parametrize("logits_shape, labels_shape", CE_SHAPES)
def test_cross_entropy_gradient(logits_shape, labels_shape):
    logits, labels = ce_case(logits_shape, labels_shape)
    _, dlogits = softmax_cross_entropy(np, logits, labels)
    want = numeric_grad(lambda: float(softmax_cross_entropy(np, logits, labels)[0]), logits)
    np.testing.assert_allclose(dlogits, want, rtol=RTOL, atol=ATOL)


def test_mse_gradient():
    rng = np.random.default_rng(0)
    y, target = rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 2, 4))
    _, dy = mse(np, y, target)
    want = numeric_grad(lambda: float(mse(np, y, target)[0]), y)
    np.testing.assert_allclose(dy, want, rtol=RTOL, atol=ATOL)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0]], dtype=np.float32)
    loss, dlogits = softmax_cross_entropy(np, logits, np.array([1, 1]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    np.testing.assert_allclose(float(loss), 1e4 / 2, rtol=1e-6)  # -log p = 1e4, then 0


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("logits_shape, labels_shape", CE_SHAPES)
def test_cross_entropy_matches_torch(dtype, rtol, logits_shape, labels_shape):
    torch = pytest.importorskip("torch")
    logits, labels = ce_case(logits_shape, labels_shape, dtype, seed=1)
    t = torch.tensor(logits, requires_grad=True)
    want = torch.nn.functional.cross_entropy(t, torch.tensor(labels))
    want.backward()
    loss, dlogits = softmax_cross_entropy(np, logits, labels)
    assert np.ndim(loss) == 0 and loss.dtype == dlogits.dtype == dtype
    np.testing.assert_allclose(float(loss), want.item(), rtol=rtol)
    np.testing.assert_allclose(dlogits, t.grad.numpy(), rtol=rtol, atol=rtol / 10)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_mse_matches_torch(dtype, rtol):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    y, target = (rng.standard_normal((4, 3, 2)).astype(dtype) for _ in range(2))
    t = torch.tensor(y, requires_grad=True)
    want = torch.nn.functional.mse_loss(t, torch.tensor(target))
    want.backward()
    loss, dy = mse(np, y, target)
    assert np.ndim(loss) == 0 and loss.dtype == dy.dtype == dtype
    np.testing.assert_allclose(float(loss), want.item(), rtol=rtol)
    np.testing.assert_allclose(dy, t.grad.numpy(), rtol=rtol, atol=rtol / 10)
