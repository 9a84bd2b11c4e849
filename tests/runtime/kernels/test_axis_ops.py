"""slice, permute, stack: gradients (float64 central differences), the view or copy each
forward promises, and PyTorch's indexing, permute and stack forward and backward. Attributes
come from the rules' lowering, as a Plan carries them."""

import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc.ops import RULES
from cnnc_runtime.kernels import permute, slice, stack


def lowered(op: str, spec: dict, *shapes: tuple[int, ...]) -> dict:
    """The kernel attributes the compiler gives `{op: ..., **spec}` on inputs of these shapes
    (batch excluded)."""
    rule = RULES[op]
    a = rule.attrs.model_validate({"op": op, **spec})
    return rule.lower(a, shapes, rule.infer(a, shapes))


SLICES = [  # (input shape with batch, attributes, torch indexing of the same)
    ((2, 6, 3, 3), {"stop": 4}, lambda t: t[:, :4]),
    ((2, 6, 3, 3), {"start": -2}, lambda t: t[:, -2:]),
    ((2, 7, 4), {"start": 1, "stop": -1, "step": 2}, lambda t: t[:, 1:-1:2]),
    ((2, 3, 5, 4), {"start": 1, "stop": 4, "axis": 1}, lambda t: t[:, :, 1:4]),
    ((2, 3, 5, 6), {"start": -5, "step": 3, "axis": -1}, lambda t: t[:, :, :, -5::3]),
    ((3, 9), {"start": 2, "stop": 7}, lambda t: t[:, 2:7]),  # a vector's features
]


@pytest.mark.parametrize("shape, spec, index", SLICES)
def test_slice_gradient_view_and_torch(shape, spec, index):
    torch = pytest.importorskip("torch")
    a = lowered("slice", spec, shape[1:])
    x = np.random.default_rng(0).standard_normal(shape)
    check_kernel(slice, [x], {}, a)
    y, saved = slice.forward(np, [x], {}, a, True)
    tx = torch.tensor(x, requires_grad=True)
    ty = index(tx)
    dy = np.random.default_rng(1).standard_normal(ty.shape)
    ty.backward(torch.tensor(dy))
    (dx,), _ = slice.backward(np, dy, saved, {}, a)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    # A channel slice with step 1 keeps every sample contiguous: a view, as in PyTorch.
    # The others are copied, so a later reshape never copies where the schedule counts none.
    view = spec.get("axis", 0) == 0 and spec.get("step", 1) == 1
    assert a["view"] == view and np.shares_memory(x, y) == view
    assert y.flags.c_contiguous or view


PERMUTES = [((2, 2, 3, 4, 5), [1, 0, 2, 3]), ((2, 3, 4, 5), [2, 0, 1]),
            ((2, 3, 4), [-1, 0]), ((2, 4, 3), [0, 1])]


@pytest.mark.parametrize("shape, dims", PERMUTES)
def test_permute_gradient_and_torch(shape, dims):
    torch = pytest.importorskip("torch")
    a = lowered("permute", {"dims": dims}, shape[1:])
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    check_kernel(permute, [x], {}, a)
    y, saved = permute.forward(np, [x], {}, a, True)
    tx = torch.tensor(x, requires_grad=True)
    ty = tx.permute(0, *(d % len(dims) + 1 for d in dims))
    dy = np.random.default_rng(3).standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(dy))
    (dx,), _ = permute.backward(np, dy, saved, {}, a)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(dx, tx.grad.numpy())
    assert y.dtype == dx.dtype == np.float32 and y.flags.c_contiguous and dx.flags.c_contiguous


STACKS = [((2, 3, 4, 4), 3, 0), ((2, 3, 4, 4), 2, 2), ((2, 3, 4, 4), 2, -1), ((4, 5), 4, 0),
          ((2, 3, 5), 1, 1)]


@pytest.mark.parametrize("shape, k, axis", STACKS)
def test_stack_gradient_and_torch(shape, k, axis):
    torch = pytest.importorskip("torch")
    a = lowered("stack", {"axis": axis}, *[shape[1:]] * k)
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal(shape) for _ in range(k)]
    check_kernel(stack, xs, {}, a)
    y, saved = stack.forward(np, xs, {}, a, True)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    ty = torch.stack(txs, dim=axis + 1 if axis >= 0 else axis)  # torch's dim counts the batch
    dy = rng.standard_normal(ty.shape)
    ty.backward(torch.tensor(dy))
    dxs, _ = stack.backward(np, dy, saved, {}, a)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    assert len(dxs) == k
    for dx, tx in zip(dxs, txs):
        np.testing.assert_array_equal(dx, tx.grad.numpy())
