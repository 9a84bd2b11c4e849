"""Winograd F(4x4, 3x3): gradients of its NumPy reference, the compiled twin against the
reference in every schedule, and both against PyTorch's convolution."""

import gradcheck
import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime import jit
from cnnc_runtime.kernels import conv, conv_relu, winograd, winograd_cpu


def attrs(pads=((1, 1), (1, 1))):
    return {"stride": (1, 1), "dilation": (1, 1), "padding": pads, "groups": 1,
            "padding_mode": "zeros", "algorithm": "winograd"}


# (x shape, output channels, pads): maps that 4x4 tiles cover exactly, with a ragged edge,
# smaller than one tile, and asymmetric or no padding.
CASES = {
    "8x8": ((2, 3, 8, 8), 4, ((1, 1), (1, 1))),
    "ragged": ((2, 3, 7, 9), 5, ((1, 1), (1, 1))),
    "one_tile": ((3, 2, 3, 3), 2, ((1, 1), (1, 1))),
    "asymmetric": ((2, 3, 6, 5), 2, ((0, 2), (2, 0))),
    "valid": ((1, 4, 9, 6), 3, ((0, 0), (0, 0))),
}


def make(x_shape, o, seed=0, dtype=np.float64, bias=True):
    rng = np.random.default_rng(seed)
    params = {"weight": rng.standard_normal((o, x_shape[1], 3, 3)).astype(dtype)}
    if bias:
        params["bias"] = rng.standard_normal(o).astype(dtype)
    return rng.standard_normal(x_shape).astype(dtype), params


@pytest.mark.parametrize("name", CASES)
def test_gradients(name, monkeypatch):
    # Winograd's float64 rounding (1e-14 of the largest value, direct conv's is 1e-16) over the
    # default step of 1e-6 is 1e-8 of noise in each difference. The loss is linear in x and w
    # (and piecewise so through the ReLU), so a larger step adds no truncation error.
    monkeypatch.setattr(gradcheck, "EPS", 1e-4)
    x_shape, o, pads = CASES[name]
    x, params = make(x_shape, o, bias=name != "valid")
    check_kernel(conv, [x], params, attrs(pads))
    check_kernel(conv_relu, [x], params, {"conv": attrs(pads)})


def torch_reference(torch, x, params, pads):
    f = torch.nn.functional
    (pt, pb), (pl, pr) = pads
    tx = torch.tensor(x.astype(np.float64), requires_grad=True)
    tw = torch.tensor(params["weight"].astype(np.float64), requires_grad=True)
    ty = f.conv2d(f.pad(tx, (pl, pr, pt, pb)), tw, torch.tensor(params["bias"], dtype=tx.dtype))
    return tx, tw, ty


def relative(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 3e-5)])
@pytest.mark.parametrize("shape, o", [((4, 16, 12, 12), 24), ((2, 64, 9, 7), 32),
                                      ((3, 256, 5, 6), 128)])  # a large filter: staged
def test_matches_pytorch_to_its_stated_accuracy(shape, o, dtype, tol):
    # float32: within 3e-5 of the largest value (winograd.py states about 1e-5).
    torch = pytest.importorskip("torch")
    pads = ((1, 1), (1, 1))
    x, params = make(shape, o, seed=1, dtype=dtype)
    tx, tw, ty = torch_reference(torch, x, params, pads)
    dy = np.random.default_rng(2).standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(dy.astype(np.float64)))
    y, saved = conv.forward(np, [x], params, attrs(pads), True)
    (dx,), grads = conv.backward(np, dy, saved, params, attrs(pads))
    assert y.dtype == dx.dtype == grads["weight"].dtype == dtype
    assert relative(y, ty.detach().numpy()) < tol
    assert relative(dx, tx.grad.numpy()) < tol
    assert relative(grads["weight"], tw.grad.numpy()) < tol
    np.testing.assert_allclose(grads["bias"], dy.sum(axis=(0, 2, 3)), rtol=1e-5)


SCHEDULES = {  # winograd_cpu settings that force each way through the compiled code
    "fused": {},
    "fused_bands": {"UNIT_BYTES": 1},  # every tile row its own unit
    "fused_images": {"UNIT_BYTES": 1 << 24},  # several images per unit
    "staged": {"STAGED_FILTER": 0},
    "staged_bands": {"STAGED_FILTER": 0, "UNIT_BYTES": 1},
}


@pytest.mark.twins
@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 5])  # one image: backward has fewer images than threads
def test_compiled_schedules_equal_the_reference(schedule, dtype, n, monkeypatch):
    for name, value in SCHEDULES[schedule].items():
        monkeypatch.setattr(winograd_cpu, name, value)
    x, params = make((n, 6, 11, 10), 7, seed=3, dtype=dtype)
    pads = ((1, 2), (0, 1))
    u = winograd.filter_transform(np, params["weight"])  # staged: the (9, C, O) form
    assert u.shape[0] == (9 if "staged" in schedule else 36)
    u36 = winograd._transformed(np, u)
    dy = np.random.default_rng(4).standard_normal((n, 7, 11, 9)).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for relu in (False, True):
        want = winograd.forward_reference(np, x, u36, params["bias"], pads, relu)
        got = winograd.forward(np, x, u, params["bias"], pads, relu)
        assert got.shape == want.shape and relative(got, want) < tol
    want_dx, want_du = winograd.backward_reference(np, dy, x, u36, pads, True)
    if u.shape[0] == 9:
        want_du = winograd._onto_rows(np, want_du)
    dx, du = winograd.backward(np, dy, x, u, pads, True)
    assert relative(dx, want_dx) < tol and relative(du, want_du) < tol
    assert winograd.backward(np, dy, x, u, pads, False)[0] is None


@pytest.mark.twins
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_filter_transforms_equal_the_reference(dtype):
    rng = np.random.default_rng(5)
    w, du = rng.standard_normal((9, 5, 3, 3)).astype(dtype), rng.standard_normal((36, 5, 9))
    du = du.astype(dtype)
    with jit.reference_kernels():
        u_ref, dw_ref = winograd.filter_transform(np, w), winograd.filter_transform_adjoint(np, du)
    tol = 1e-14 if dtype == np.float64 else 1e-6
    assert relative(winograd.filter_transform(np, w), u_ref) < tol
    assert relative(winograd.filter_transform_adjoint(np, du), dw_ref) < tol


def test_the_compiled_path_gives_the_same_bits_every_run():
    x, params = make((8, 16, 12, 12), 16, seed=6, dtype=np.float32)
    dy = np.random.default_rng(7).standard_normal((8, 16, 12, 12)).astype(np.float32)
    runs = []
    for _ in range(3):
        y, saved = conv.forward(np, [x], params, attrs(), True)
        (dx,), grads = conv.backward(np, dy, saved, params, attrs())
        runs.append((y, dx, grads["weight"]))
    for later in runs[1:]:
        for a, b in zip(runs[0], later):
            np.testing.assert_array_equal(a, b)


def test_relu_lets_nan_through_like_np_maximum():
    x, params = make((1, 2, 4, 4), 2, dtype=np.float32)
    x[0, 0, 1, 1] = np.nan
    y, _ = conv_relu.forward(np, [x], params, {"conv": attrs()}, False)
    assert np.isnan(y).any() and (y[~np.isnan(y)] >= 0).all()
