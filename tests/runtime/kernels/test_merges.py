"""add, mul, concat: two or more inputs."""

import functools
import operator

import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import add, concat, mul


def inputs(n, shape=(2, 3, 2, 2), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(n)]


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("kernel", [add, mul], ids=["add", "mul"])
def test_elementwise_gradient(kernel, n):
    check_kernel(kernel, inputs(n), {}, {})


@pytest.mark.parametrize("n", [2, 3])
def test_mul_gradient_with_zeros(n):
    xs = inputs(n)
    xs[0][0, 0] = 0  # a zero in one input: the others' gradients vanish there, no 0/0
    xs[1][0, 0] = 0
    y, saved = mul.forward(np, xs, {}, {}, True)
    dxs, _ = mul.backward(np, np.ones_like(y), saved, {}, {})
    for i, dx in enumerate(dxs):
        others = np.prod([x for j, x in enumerate(xs) if j != i], axis=0)
        np.testing.assert_allclose(dx, others, rtol=1e-12)
    check_kernel(mul, xs, {}, {})


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 2, 2)])
def test_concat_gradient(n, shape):
    rng = np.random.default_rng(n)
    xs = [rng.standard_normal((shape[0], c, *shape[2:])) for c in (1, 3, 2)[:n]]
    check_kernel(concat, xs, {}, {})


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("op", ["add", "mul", "concat"])
def test_merges_match_torch(op, dtype, rtol, n):
    torch = pytest.importorskip("torch")
    xs = [x.astype(dtype) for x in inputs(n, seed=5)]
    dy = np.random.default_rng(6).standard_normal(xs[0].shape).astype(dtype)
    kernel, reference, g = {
        "add": (add, lambda ts: sum(ts[1:], ts[0]), dy),
        "mul": (mul, lambda ts: torch.stack(ts).prod(dim=0), dy),
        "concat": (concat, lambda ts: torch.cat(ts, dim=1), np.concatenate([dy] * n, axis=1)),
    }[op]
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    reference(ts).backward(torch.tensor(g))
    y, saved = kernel.forward(np, xs, {}, {}, True)
    dxs, _ = kernel.backward(np, g, saved, {}, {})
    assert y.dtype == dtype and len(dxs) == n
    np.testing.assert_allclose(y, reference([torch.tensor(x) for x in xs]).numpy(), rtol=rtol)
    for dx, t in zip(dxs, ts, strict=True):
        assert dx.dtype == dtype
        np.testing.assert_allclose(dx, t.grad.numpy(), rtol=rtol, atol=rtol)


GATES = [[(2, 3, 4, 4), (2, 3, 1, 1)], [(2, 3, 1, 1), (2, 3, 4, 4)], [(2, 1, 4, 4), (2, 3, 4, 4)],
         [(2, 3, 4, 4), (2, 3, 1, 1), (2, 1, 4, 1)], [(2, 5, 7), (2, 5, 1)]]


@pytest.mark.parametrize("shapes", GATES, ids=str)
@pytest.mark.parametrize("kernel", [add, mul], ids=["add", "mul"])
def test_broadcast_gradient(kernel, shapes):
    rng = np.random.default_rng(len(shapes))
    check_kernel(kernel, [rng.standard_normal(s) for s in shapes], {}, {})


@pytest.mark.parametrize("shapes", GATES, ids=str)
def test_broadcast_matches_torch(shapes):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    for kernel, reference in ((add, lambda ts: sum(ts[1:], ts[0])),
                              (mul, lambda ts: functools.reduce(operator.mul, ts))):
        ts = [torch.tensor(x, requires_grad=True) for x in xs]
        out = reference(ts)
        dy = rng.standard_normal(tuple(out.shape)).astype(np.float32)
        out.backward(torch.tensor(dy))
        y, saved = kernel.forward(np, list(xs), {}, {}, True)
        dxs, _ = kernel.backward(np, dy, saved, {}, {})
        np.testing.assert_allclose(y, out.detach().numpy(), rtol=1e-6)
        for dx, t in zip(dxs, ts, strict=True):
            assert dx.shape == tuple(t.shape)
            np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-5, atol=1e-5)
