import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import pad

MODES = ("zeros", "reflect", "replicate", "circular")
# Asymmetric pads, up to the limits: reflect below the size, circular up to it.
PADS = {
    1: (((2, 3),), (6,)),
    2: (((3, 0), (1, 4)), (4, 5)),
    3: (((1, 2), (0, 2), (3, 1)), (3, 4, 4)),
}
EDGE = {  # pads at each mode's limit for a (4, 5) input
    "zeros": ((6, 0), (0, 7)),
    "reflect": ((3, 0), (4, 4)),
    "replicate": ((5, 2), (0, 6)),
    "circular": ((4, 4), (5, 0)),
}


def attrs_for(pads: tuple, mode: str, value: float = 0.0) -> dict:
    return {"padding": pads, "mode": mode, "value": value}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ndim", PADS)
def test_pad_gradient(ndim: int, mode: str) -> None:
    pads, sizes = PADS[ndim]
    x = np.random.default_rng(ndim).standard_normal((2, 2, *sizes))
    check_kernel(pad, [x], {}, attrs_for(pads, mode, 0.5))


@pytest.mark.parametrize("mode", MODES)
def test_pad_gradient_at_limits(mode: str) -> None:
    x = np.random.default_rng(7).standard_normal((1, 2, 4, 5))
    check_kernel(pad, [x], {}, attrs_for(EDGE[mode], mode))


def test_pad_helpers_on_other_leading_axes() -> None:
    """pad_forward pads only the trailing axes, whatever leads (conv pads a (C, N, *S) view),
    as numpy does, and pad_adjoint is its adjoint: <P x, g> == <x, P* g>."""
    rng = np.random.default_rng(3)
    x, pads = rng.standard_normal((3, 2, 1, 4, 5)), ((1, 2), (3, 0))
    np_mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    for mode in MODES:
        y = pad.pad_forward(np, x, pads, mode)
        np.testing.assert_array_equal(y, np.pad(x, ((0, 0),) * 3 + pads, mode=np_mode[mode]))
        g = rng.standard_normal(y.shape)
        g_before = g.copy()
        np.testing.assert_allclose(np.sum(y * g), np.sum(x * pad.pad_adjoint(np, g, pads, mode)))
        np.testing.assert_array_equal(g, g_before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ndim", PADS)
def test_pad_matches_torch(ndim: int, mode: str, dtype: type) -> None:
    torch = pytest.importorskip("torch")
    pads, sizes = PADS[ndim]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, *sizes)).astype(dtype)
    attrs = attrs_for(pads, mode, -1.5)
    y, saved = pad.forward(np, [x], {}, attrs, True)
    dy = rng.standard_normal(y.shape).astype(dtype)
    (dx,), _ = pad.backward(np, dy, saved, {}, attrs)

    tx = torch.tensor(x, requires_grad=True)
    flat = tuple(v for before_after in reversed(pads) for v in before_after)
    kw = {"value": -1.5} if mode == "zeros" else {}
    ty = torch.nn.functional.pad(tx, flat, mode="constant" if mode == "zeros" else mode, **kw)
    ty.backward(torch.tensor(dy))
    assert y.dtype == dx.dtype == dtype and dx.flags.c_contiguous
    np.testing.assert_array_equal(y, ty.detach().numpy())
    tol = 1e-5 if dtype == np.float32 else 1e-12  # float32 sums in another order
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol)
