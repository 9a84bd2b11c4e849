"""Max pooling's indices and max unpooling, against PyTorch (max_poolNd(return_indices=True),
max_unpoolNd with and without output_size) and central differences."""

import numpy as np
import pytest
from gradcheck import numeric_grad
from test_maxpool import CASES, attrs, distinct

from cnnc.ops.maxunpool import MaxUnpoolAttrs, infer
from cnnc_runtime.kernels import maxpool, maxunpool

torch = pytest.importorskip("torch")
F = torch.nn.functional
POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
UNPOOL = {1: F.max_unpool1d, 2: F.max_unpool2d, 3: F.max_unpool3d}


def symmetric(case):
    """PyTorch pads both sides of an axis alike (a 1D case's (1, 0) is before and after)."""
    pads = attrs(*case[:4])["padding"]
    return len(pads) == len(case[0]) - 2 and all(before == after for before, after in pads)


def pool(x, a, training=False):
    (y, indices), saved = maxpool.forward(np, [x], {}, a, training, outputs=("indices",))
    return y, indices, saved


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation, ceil_mode",
                         [c for c in CASES if symmetric(c)])
def test_maxpool_indices_match_pytorch(shape, kernel, stride, padding, dilation, ceil_mode):
    x = distinct(shape)
    a = attrs(shape, kernel, stride, padding, dilation, ceil_mode)
    y, indices, _ = pool(x, a)
    pad = tuple(p[0] if isinstance(p, tuple) else p for p in a["padding"])
    ty, ti = POOL[len(shape) - 2](torch.from_numpy(x), a["kernel"], a["stride"], pad,
                                  a["dilation"], ceil_mode, return_indices=True)
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(y, ty.numpy())
    np.testing.assert_array_equal(indices, ti.numpy())


def test_indices_cost_nothing_unless_asked_and_training_keeps_its_saved_offsets():
    x = distinct((2, 3, 6, 6))
    a = attrs(x.shape, 2)
    y, saved = maxpool.forward(np, [x], {}, a, False)
    assert isinstance(y, np.ndarray) and saved is None
    y2, indices, saved = pool(x, a, training=True)
    np.testing.assert_array_equal(y, y2)
    dx, = maxpool.backward(np, np.ones_like(y), saved, {}, a)[0]
    assert dx.reshape(2, 3, -1)[np.arange(2)[:, None, None], np.arange(3)[:, None],
                                indices.reshape(2, 3, -1)].min() == 1


def unpool_attrs(values_shape, kernel, stride=None, padding=0, like=None):
    rule = MaxUnpoolAttrs(op="maxunpool", kernel=kernel, stride=stride, padding=padding)
    xs = (values_shape[1:],) * 2 + ((like[1:],) if like else ())
    return {"out": infer(rule, xs)[1:]}


UNPOOL_CASES = [  # pooled input shape, kernel, stride, padding, like (the pooling's input)
    ((2, 3, 8), 2, None, 0, False),
    ((1, 2, 9), 3, 2, 1, True),
    ((2, 2, 6, 8), 2, None, 0, False),
    ((2, 2, 7, 9), 2, None, 0, True),  # odd sizes: output_size restores 7x9
    ((1, 2, 9, 8), 3, 2, 1, True),  # overlapping windows
    ((1, 2, 4, 6, 4), 2, None, 0, False),
    ((1, 1, 5, 7, 6), 3, 2, 1, True),
]


@pytest.mark.parametrize("shape, kernel, stride, padding, like", UNPOOL_CASES)
def test_maxunpool_matches_pytorch_with_and_without_output_size(shape, kernel, stride, padding,
                                                                like):
    n = len(shape) - 2
    x = distinct(shape)
    y, indices, _ = pool(x, attrs(shape, kernel, stride, padding))
    values = 2 * y - 1  # two values at one index (overlapping windows) are equal, as in use
    a = unpool_attrs(values.shape, kernel, stride, padding, shape if like else None)
    # `like` (x) only sets attrs["out"]: a size input (Rule.size_inputs), not the kernel's
    y, saved = maxunpool.forward(np, [values, indices], {}, a, True)
    tv = torch.from_numpy(values).requires_grad_()
    ty = UNPOOL[n](tv, torch.from_numpy(indices), kernel, stride, padding,
                   output_size=shape[2:] if like else None)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    dy = np.random.default_rng(2).standard_normal(y.shape)
    ty.backward(torch.from_numpy(dy))
    dinputs, dparams = maxunpool.backward(np, dy, saved, {}, a)
    np.testing.assert_array_equal(dinputs[0], tv.grad.numpy())
    assert dinputs[1:] == [None] and dparams == {}


@pytest.mark.parametrize("shape", [(2, 2, 6), (2, 3, 4, 6), (1, 2, 4, 4, 2)])
def test_maxunpool_values_gradient(shape):
    """Float64 central differences on the values; the indices stay integers (check_kernel
    would make every input float)."""
    x = distinct(shape)
    _, indices, _ = pool(x, attrs(shape, 2))
    values = np.random.default_rng(3).standard_normal(indices.shape)
    a = {"out": shape[2:]}
    r = np.random.default_rng(4).standard_normal(shape)

    def loss():
        return float(np.sum(maxunpool.forward(np, [values, indices], {}, a, False)[0] * r))

    _, saved = maxunpool.forward(np, [values, indices], {}, a, True)
    (dvalues, dindices), _ = maxunpool.backward(np, r.copy(), saved, {}, a)
    assert dindices is None
    np.testing.assert_allclose(dvalues, numeric_grad(loss, values), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("shape, kernel, stride, padding",
                         [((2, 2, 6, 6), 2, None, 0), ((1, 2, 7, 9), 2, None, 0),
                          ((1, 2, 4, 9), [2, 3], [2, 3], [1, 1])])
def test_maxpool_then_maxunpool_gradient(shape, kernel, stride, padding):
    """unpool(pool(x), indices(x), like=x): the indices are piecewise constant, so the
    gradient flows through the pooled values only, and backward must agree. Windows do not
    overlap: where two windows pick one cell, unpooling writes it once but (as in PyTorch)
    hands its gradient to both values."""
    x = distinct(shape)
    pa = attrs(shape, *(tuple(v) if isinstance(v, list) else v for v in (kernel, stride, padding)))
    ua = unpool_attrs(tuple(shape[:2]) + pa["out"], kernel, stride, padding, like=shape)
    r = np.random.default_rng(4).standard_normal(shape)

    def loss():
        y, indices, _ = pool(x, pa)
        return float(np.sum(maxunpool.forward(np, [y, indices], {}, ua, False)[0] * r))

    y, indices, psaved = pool(x, pa, training=True)
    _, usaved = maxunpool.forward(np, [y, indices], {}, ua, True)
    (dy, dindices), _ = maxunpool.backward(np, r, usaved, {}, ua)
    assert dindices is None
    (dx,), _ = maxpool.backward(np, dy, psaved, {}, pa)
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-8)


def test_an_index_outside_the_output_is_refused():
    values = np.ones((1, 1, 2))
    with pytest.raises(ValueError, match="outside the 3-cell output plane"):
        maxunpool.forward(np, [values, np.array([[[0, 3]]])], {}, {"out": (3,)}, False)
