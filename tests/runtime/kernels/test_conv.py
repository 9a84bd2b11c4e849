import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import conv


def case(x: tuple, w: tuple, stride: int | tuple = 1, padding: int | tuple = 0,
         dilation: int | tuple = 1, groups: int = 1, mode: str = "zeros",
         bias: bool = True) -> tuple:
    """(x shape, weight shape, resolved attrs, bias) with per-axis values spelled out."""
    n = len(x) - 2
    per = (lambda v: v if isinstance(v, tuple) else (v,) * n)
    pads = tuple(p if isinstance(p, tuple) else (p, p) for p in per(padding))
    attrs = {"stride": per(stride), "dilation": per(dilation), "padding": pads,
             "groups": groups, "padding_mode": mode}
    return x, w, attrs, bias


CASES = {
    "1d": case((2, 3, 7), (4, 3, 3), padding=1),
    "1d_stride2_asym_nobias": case((2, 3, 8), (4, 3, 3), 2, ((2, 1),), bias=False),
    "1d_dilation2_reflect": case((2, 3, 7), (2, 3, 3), 1, ((2, 1),), 2, mode="reflect"),
    "2d": case((2, 3, 5, 5), (4, 3, 3, 3), padding=1),
    "2d_valid": case((2, 3, 5, 6), (4, 3, 3, 3)),
    "2d_stride2_asym_nobias": case((2, 3, 6, 5), (4, 3, 3, 3), 2, ((1, 0), (0, 2)), bias=False),
    "2d_dilation2": case((2, 2, 6, 6), (3, 2, 3, 3), padding=2, dilation=2),
    "2d_rect": case((2, 2, 6, 7), (3, 2, 2, 3), (2, 1), ((0, 1), (2, 0)), (1, 2)),
    "2d_groups2": case((2, 4, 5, 5), (6, 2, 3, 3), padding=1, groups=2),
    "2d_groups2_stride2": case((2, 4, 6, 6), (4, 2, 3, 3), 2, 1, groups=2, bias=False),
    "2d_depthwise": case((2, 4, 5, 5), (4, 1, 3, 3), padding=1, groups=4),
    "2d_depthwise_x2_stride2": case((2, 3, 6, 6), (6, 1, 3, 3), 2, 1, groups=3),
    "2d_reflect": case((2, 2, 5, 6), (3, 2, 3, 3), 1, ((2, 1), (0, 2)), mode="reflect"),
    "2d_replicate": case((2, 2, 5, 6), (3, 2, 3, 3), 1, ((2, 1), (0, 3)), mode="replicate"),
    "2d_circular": case((2, 2, 5, 6), (3, 2, 3, 3), 1, ((2, 1), (0, 6)), mode="circular"),
    "2d_reflect_stride2": case((2, 2, 5, 6), (3, 2, 3, 3), 2, ((4, 1), (1, 5)), mode="reflect"),
    "2d_pointwise": case((2, 4, 3, 4), (5, 4, 1, 1)),
    "2d_pointwise_groups2_nobias": case((2, 4, 3, 4), (6, 2, 1, 1), groups=2, bias=False),
    "2d_1x1_stride2": case((2, 3, 5, 4), (4, 3, 1, 1), 2),
    "2d_1x1_padded_replicate": case((2, 3, 3, 4), (4, 3, 1, 1), 1, 1, mode="replicate"),
    "2d_2x2_stride2": case((2, 3, 6, 4), (4, 3, 2, 2), 2),
    "3d": case((1, 2, 4, 4, 3), (3, 2, 2, 3, 2), padding=1),
    "3d_stride2_groups2_circular": case((1, 4, 4, 5, 4), (2, 2, 3, 3, 3), 2,
                                        ((1, 1), (0, 2), (1, 0)), groups=2, mode="circular"),
    "3d_dilation2_replicate_nobias": case((1, 2, 5, 4, 4), (2, 2, 2, 2, 2), 1,
                                          ((1, 0), (0, 1), (2, 1)), 2, mode="replicate",
                                          bias=False),
    "3d_depthwise_reflect": case((1, 3, 4, 4, 5), (3, 1, 3, 2, 3), (1, 2, 1), 1, groups=3,
                                 mode="reflect"),
}

# Stride-1 convs run in either im2col layout depending on the cost rule: pin each in turn.
LAYOUTS = {"shift": 1e9, "strided": -1.0}


def make(shape: tuple, w_shape: tuple, bias: bool, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    params = {"weight": rng.standard_normal(w_shape)}
    if bias:
        params["bias"] = rng.standard_normal(w_shape[0])
    return rng.standard_normal(shape), params


@pytest.mark.parametrize("name,layout", [
    (name, layout) for name, (_, _, attrs, _) in CASES.items() for layout in LAYOUTS
    if layout == "strided" or max(attrs["stride"]) == 1])
def test_conv_gradient(name: str, layout: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv, "GRID_WASTE", LAYOUTS[layout])
    shape, w_shape, attrs, bias = CASES[name]
    x, params = make(shape, w_shape, bias)
    check_kernel(conv, [x], params, attrs)


def torch_conv(torch, x, params: dict, attrs: dict):
    """PyTorch's result for the same attrs, padding done by F.pad (any mode, asymmetric)."""
    f = torch.nn.functional
    pads = tuple(v for before_after in reversed(attrs["padding"]) for v in before_after)
    mode = "constant" if attrs["padding_mode"] == "zeros" else attrs["padding_mode"]
    conv_nd = getattr(f, f"conv{x.dim() - 2}d")
    return conv_nd(f.pad(x, pads, mode=mode), params["weight"], params.get("bias"),
                   stride=attrs["stride"], dilation=attrs["dilation"], groups=attrs["groups"])


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("name", CASES)
def test_conv_matches_torch(name: str, dtype: type, tol: float) -> None:
    torch = pytest.importorskip("torch")
    shape, w_shape, attrs, bias = CASES[name]
    x, params = make(shape, w_shape, bias, seed=1)
    x, params = x.astype(dtype), {k: v.astype(dtype) for k, v in params.items()}
    y, saved = conv.forward(np, [x], params, attrs, True)
    dy = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
    dy_before = dy.copy()
    (dx,), grads = conv.backward(np, dy, saved, params, attrs)

    tx = torch.tensor(x, requires_grad=True)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    ty = torch_conv(torch, tx, tp, attrs)
    ty.backward(torch.tensor(dy))
    assert y.dtype == dx.dtype == grads["weight"].dtype == dtype
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol)
    for k, v in tp.items():
        np.testing.assert_allclose(grads[k], v.grad.numpy(), rtol=tol, atol=tol, err_msg=k)
    np.testing.assert_array_equal(dy, dy_before)


def test_conv_pointwise_saves_no_copy_and_strided_saves_no_input() -> None:
    shape, w_shape, attrs, bias = CASES["2d_pointwise"]
    x, params = make(shape, w_shape, bias)
    _, (cols, _) = conv.forward(np, [x], params, attrs, True)
    assert np.shares_memory(cols, x)
    shape, w_shape, attrs, bias = CASES["2d"]
    x, params = make(shape, w_shape, bias)
    _, saved = conv.forward(np, [x], params, attrs, True)
    assert not any(np.shares_memory(s, x) for s in saved if isinstance(s, np.ndarray))


@pytest.mark.parametrize("name", ["2d", "2d_pointwise", "2d_groups2_stride2"])
@pytest.mark.parametrize("chunk_bytes", [1 << 30, 1])  # one chunk, or one image per chunk
def test_conv_backward_without_dx_gives_the_same_parameter_gradients(
        name: str, chunk_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(conv.IM2COL_BYTES, "cpu", chunk_bytes)
    shape, w_shape, attrs, bias = CASES[name]
    x, params = make(shape, w_shape, bias)
    y, saved = conv.forward(np, [x], params, attrs, True)
    dy = np.random.default_rng(1).standard_normal(y.shape)
    [dx], expected = conv.backward(np, dy, saved, params, attrs)
    _, saved = conv.forward(np, [x], params, attrs, True)  # backward overwrote the columns
    [none], grads = conv.backward(np, dy, saved, params, attrs, need_dx=False)
    assert dx.shape == x.shape and none is None
    for k in expected:
        np.testing.assert_array_equal(grads[k], expected[k], err_msg=k)
