import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc.ops.base import window_out
from cnnc_runtime.kernels import avgpool


def _per(n, v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def attrs(shape, kernel, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Resolved attrs like the compiler's, for an input (N, C, *spatial)."""
    n = len(shape) - 2
    kernel = _per(n, kernel)
    stride = kernel if stride is None else _per(n, stride)
    pads = tuple(p if isinstance(p, tuple) else (p, p) for p in _per(n, padding))
    out = tuple(window_out(s, k, st, p, 1, ceil_mode)
                for s, k, st, p in zip(shape[2:], kernel, stride, pads))
    return {"kernel": kernel, "stride": stride, "padding": pads,
            "count_include_pad": count_include_pad, "out": out}


CASES = [  # shape, kernel, stride, padding, ceil_mode
    ((2, 2, 7), 2, None, 0, False),
    ((1, 2, 9), 3, 2, 1, False),
    ((1, 2, 8), 3, 2, 1, True),  # last window overhangs the padded input
    ((1, 2, 9), 3, 1, (1, 0), True),
    ((2, 2, 5, 6), 2, None, 0, False),
    ((1, 2, 6, 7), 3, 2, 1, False),
    ((1, 2, 6, 6), 3, 2, 1, True),
    ((1, 1, 7, 8), (3, 2), (2, 1), ((1, 0), (0, 1)), True),
    ((1, 2, 5, 2), 3, 3, 1, True),  # a last axis shorter than the stride
    ((1, 2, 4, 5, 4), 2, None, 0, False),
    ((1, 1, 5, 5, 6), 3, 2, 1, True),
    ((1, 1, 4, 6, 5), (2, 3, 2), (1, 2, 2), ((0, 1), 1, (1, 0)), False),
]


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape, kernel, stride, padding, ceil_mode", CASES)
def test_avgpool_gradient(shape, kernel, stride, padding, ceil_mode, count_include_pad):
    x = np.random.default_rng(0).standard_normal(shape)
    check_kernel(avgpool, [x], {}, attrs(shape, kernel, stride, padding, ceil_mode,
                                         count_include_pad))


TORCH_CASES = [  # shape, kernel, stride, padding, ceil_mode
    ((2, 3, 11), 3, 2, 1, False),
    ((2, 3, 12), 3, 2, 1, True),
    ((2, 3, 10), 4, 3, 2, True),
    ((2, 3, 10, 9), 2, 2, 0, False),
    ((2, 3, 11, 10), 3, 2, 1, True),
    ((2, 3, 12, 11), (3, 2), (2, 3), (1, 1), True),
    ((1, 4, 15, 14), 5, 3, 2, True),
    ((1, 2, 16, 16), 7, 1, 3, False),
    ((2, 2, 7, 8, 9), 3, 2, 1, False),
    ((1, 2, 9, 8, 7), (3, 2, 2), (2, 1, 2), (1, 0, 1), True),
]


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape, kernel, stride, padding, ceil_mode", TORCH_CASES)
def test_avgpool_matches_torch(dtype, rtol, count_include_pad, shape, kernel, stride, padding,
                               ceil_mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    a = attrs(shape, kernel, stride, padding, ceil_mode, count_include_pad)
    f = [None, torch.nn.functional.avg_pool1d, torch.nn.functional.avg_pool2d,
         torch.nn.functional.avg_pool3d][len(shape) - 2]
    tx = torch.tensor(x, requires_grad=True)
    ty = f(tx, kernel, stride, padding, ceil_mode, count_include_pad)
    dy = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(dy))

    y, saved = avgpool.forward(np, [x], {}, a, True)
    (dx,), _ = avgpool.backward(np, dy, saved, {}, a)
    assert y.dtype == dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_asymmetric_padding_divisor(count_include_pad):
    """With (before, after) padding, PyTorch's rule counts padding up to `after` only."""
    x = np.ones((1, 1, 5))
    a = attrs(x.shape, 3, 2, ((1, 0),), True, count_include_pad)
    y, _ = avgpool.forward(np, [x], {}, a, True)
    # windows over padded cells [-1, 2), [1, 4), [3, 6): the last overhangs the input by one
    want = [2 / 3, 1, 1] if count_include_pad else [1, 1, 1]
    np.testing.assert_allclose(y.reshape(-1), want)


@pytest.mark.parametrize("spec", [
    {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel": [3, 2], "padding": [[1, 0], [0, 1]], "ceil_mode": True},
    {"kernel": 2},
])
def test_kernel_takes_the_lowered_attrs(spec):
    """The compiler's lowered attrs run as they are, and give its inferred shape."""
    from cnnc.ops.avgpool import RULE, AvgPoolAttrs

    a = AvgPoolAttrs(op="avgpool", **spec)
    shape = (3, 9, 8)
    y_shape = RULE.infer(a, (shape,))
    x = np.random.default_rng(0).standard_normal((2,) + shape)
    y, _ = avgpool.forward(np, [x], {}, RULE.lower(a, (shape,), y_shape), True)
    assert y.shape == (2,) + y_shape
