import numpy as np
import pytest
from gradcheck import check_kernel, routed_gradient

from cnnc.ops.base import window_out
from cnnc_runtime.kernels import maxpool


def _per(n, v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def attrs(shape, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Resolved attrs like the compiler's, for an input (N, C, *spatial)."""
    n = len(shape) - 2
    kernel, dilation = _per(n, kernel), _per(n, dilation)
    stride = kernel if stride is None else _per(n, stride)
    pads = tuple(p if isinstance(p, tuple) else (p, p) for p in _per(n, padding))
    out = tuple(window_out(s, k, st, p, d, ceil_mode)
                for s, k, st, p, d in zip(shape[2:], kernel, stride, pads, dilation))
    return {"kernel": kernel, "stride": stride, "padding": pads, "dilation": dilation, "out": out}


def distinct(shape, seed=0):
    """Values at least 0.1 apart (no ties: the max is differentiable), shuffled."""
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.1 - n * 0.05


CASES = [  # shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 2, 7), 2, None, 0, 1, False),
    ((1, 2, 9), 3, 2, 1, 1, False),
    ((1, 2, 8), 3, 2, 1, 1, True),  # last window overhangs the end
    ((1, 2, 10), 3, 1, (1, 0), 2, False),  # asymmetric padding, dilation
    ((2, 2, 5, 6), 2, None, 0, 1, False),
    ((1, 2, 5, 7), 2, None, 0, 1, True),  # a 2x2 pool whose last windows overhang
    ((1, 2, 6, 7), 3, 2, 1, 1, False),
    ((1, 2, 6, 6), 3, 2, 0, 1, True),  # overhang on both axes
    ((1, 1, 7, 8), (3, 2), (2, 1), ((1, 0), (0, 1)), 1, True),
    ((1, 1, 8, 7), 2, 1, 1, 2, False),  # dilation with padding
    ((1, 1, 7, 7), (2, 3), (3, 2), 1, (3, 1), True),
    ((1, 2, 5, 2), 3, 3, 1, 1, True),  # a last axis shorter than the stride
    ((1, 2, 4, 5, 4), 2, None, 0, 1, False),
    ((1, 1, 5, 5, 6), 3, 2, 1, 1, True),
    ((1, 1, 4, 6, 5), (2, 3, 2), (1, 2, 2), ((0, 1), 1, (1, 0)), (2, 1, 1), False),
]


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation, ceil_mode", CASES)
def test_maxpool_gradient(shape, kernel, stride, padding, dilation, ceil_mode):
    a = attrs(shape, kernel, stride, padding, dilation, ceil_mode)
    check_kernel(maxpool, [distinct(shape)], {}, a)


def test_eval_matches_training_and_saves_nothing():
    x = distinct((2, 3, 9, 8))
    a = attrs(x.shape, 3, 2, 1)
    y_train, _ = maxpool.forward(np, [x], {}, a, True)
    y_eval, saved = maxpool.forward(np, [x], {}, a, False)
    np.testing.assert_array_equal(y_eval, y_train)
    assert saved is None


TORCH_CASES = [  # shape, kernel, stride, padding, dilation, ceil_mode
    ((2, 3, 11), 3, 2, 1, 1, False),
    ((2, 3, 12), 3, 2, 1, 2, True),
    ((2, 3, 10, 9), 2, 2, 0, 1, False),
    ((2, 3, 11, 10), 3, 2, 1, 1, True),
    ((2, 3, 12, 11), (3, 2), (2, 3), (1, 1), (2, 1), True),
    ((1, 4, 15, 14), 5, 3, 2, 1, True),
    ((2, 2, 7, 8, 9), 3, 2, 1, 1, False),
    ((1, 2, 9, 8, 7), (3, 2, 2), (2, 1, 2), (1, 0, 1), (1, 2, 1), True),
    ((1, 1, 5, 6, 6), (5, 5, 6), 1, 0, 1, False),  # 150 offsets: int32 winners
]


def _torch_pool(torch, x, shape, kernel, stride, padding, dilation, ceil_mode):
    f = [None, torch.nn.functional.max_pool1d, torch.nn.functional.max_pool2d,
         torch.nn.functional.max_pool3d][len(shape) - 2]
    return f(x, kernel, stride, padding, dilation, ceil_mode, return_indices=True)


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("shape, kernel, stride, padding, dilation, ceil_mode", TORCH_CASES)
def test_maxpool_matches_torch(dtype, rtol, ties, shape, kernel, stride, padding, dilation,
                               ceil_mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    # Ties (small integers) check the rule that the first maximum in window order wins.
    x = (rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
    a = attrs(shape, kernel, stride, padding, dilation, ceil_mode)
    tx = torch.tensor(x, requires_grad=True)
    ty, ti = _torch_pool(torch, tx, shape, kernel, stride, padding, dilation, ceil_mode)
    dy = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(dy))

    y, saved = maxpool.forward(np, [x], {}, a, True)
    (dx,), _ = maxpool.backward(np, dy, saved, {}, a)
    assert y.dtype == dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=rtol)
    # Every dy lands on the cell PyTorch's returned index names (the first maximum on ties).
    want = routed_gradient(ti.numpy(), dy, shape[2:])
    np.testing.assert_allclose(dx.reshape(want.shape), want, rtol=rtol, atol=rtol)

@pytest.mark.parametrize("padding", [((1, 0), (0, 2)), ((2, 1), (1, 1))])
def test_asymmetric_padding_matches_padded_torch(padding):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 9, 8)).astype(np.float32)
    a = attrs(x.shape, 4, 2, padding)
    (hb, ha), (wb, wa) = padding
    tx = torch.tensor(x, requires_grad=True)
    padded = torch.nn.functional.pad(tx, (wb, wa, hb, ha), value=-float("inf"))
    ty = torch.nn.functional.max_pool2d(padded, 4, 2)
    dy = np.random.default_rng(3).standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(dy))
    y, saved = maxpool.forward(np, [x], {}, a, True)
    (dx,), _ = maxpool.backward(np, dy, saved, {}, a)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("spec", [
    {"kernel": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel": [3, 2], "padding": [[1, 0], [0, 1]], "dilation": [1, 2], "ceil_mode": True},
    {"kernel": 2},
])
def test_kernel_takes_the_lowered_attrs(spec):
    """The compiler's lowered attrs run as they are, and give its inferred shape."""
    from cnnc.ops.maxpool import RULE, MaxPoolAttrs

    a = MaxPoolAttrs(op="maxpool", **spec)
    shape = (3, 9, 8)
    y_shape = RULE.infer(a, (shape,))
    y, _ = maxpool.forward(np, [distinct((2,) + shape)], {}, RULE.lower(a, (shape,), y_shape),
                           True)
    assert y.shape == (2,) + y_shape


@pytest.mark.twins
@pytest.mark.parametrize("kernel, stride, padding", [(2, None, 0), (3, 2, 1), (2, 1, 1)])
def test_compiled_pools_equal_the_reference_on_ties_nan_and_infinities(kernel, stride, padding):
    from cnnc_runtime import jit
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, (2, 3, 9, 8)).astype(np.float32)  # many ties
    x[0, 0, 1, 1], x[1, 2, 4, 5], x[0, 1, 0, 0] = np.nan, -np.inf, np.inf
    a = attrs(x.shape, kernel, stride, padding)
    dy = rng.standard_normal((2, 3, *a["out"])).astype(np.float32)
    y, (arg, _) = maxpool.forward(np, [x], {}, a, True)
    (dx,), _ = maxpool.backward(np, dy, (arg, x.shape), {}, a)
    with jit.reference_kernels():
        y_ref, (arg_ref, _) = maxpool.forward(np, [x], {}, a, True)
        (dx_ref,), _ = maxpool.backward(np, dy, (arg_ref, x.shape), {}, a)
    np.testing.assert_array_equal(y, y_ref)  # NaN where the reference has NaN
    np.testing.assert_array_equal(arg, arg_ref)
    np.testing.assert_array_equal(dx, dx_ref)
