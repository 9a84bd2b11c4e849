import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import conv, conv_transpose


def case(x: tuple, w: tuple, stride: int | tuple = 1, padding: int | tuple = 0,
         output_padding: int | tuple = 0, dilation: int | tuple = 1, groups: int = 1,
         bias: bool = True) -> tuple:
    """(x shape, weight shape (C, O/groups, *K), resolved attrs, bias), values per axis."""
    n = len(x) - 2
    per = (lambda v: v if isinstance(v, tuple) else (v,) * n)
    attrs = {"stride": per(stride), "padding": per(padding),
             "output_padding": per(output_padding), "dilation": per(dilation), "groups": groups}
    return x, w, attrs, bias


CASES = {
    "1d": case((2, 3, 4), (3, 2, 3)),
    "1d_stride2_pad1_op1_nobias": case((2, 3, 4), (3, 2, 3), 2, 1, 1, bias=False),
    "1d_stride3_op2": case((2, 2, 3), (2, 3, 2), 3, 0, 2),
    "2d": case((2, 3, 3, 4), (3, 4, 3, 3), padding=1),
    "2d_stride2_pad1_op1": case((2, 3, 3, 3), (3, 4, 3, 3), 2, 1, 1),
    "2d_2x2_stride2": case((2, 4, 3, 2), (4, 2, 2, 2), 2),  # U-Net's up-conv: windows tile
    "2d_groups2_dilation2": case((2, 4, 3, 3), (4, 3, 3, 3), 1, 1, 0, 2, 2),
    "2d_op_beyond_stride": case((2, 2, 3, 3), (2, 3, 3, 3), 1, 1, 1, 2),  # op < dilation
    "2d_rect_nobias": case((2, 2, 3, 4), (2, 3, 2, 3), (2, 1), (1, 0), (1, 0), (1, 2),
                           bias=False),
    "2d_depthwise_stride2": case((2, 3, 3, 3), (3, 1, 3, 3), 2, 1, 1, groups=3),
    "3d": case((1, 2, 2, 3, 2), (2, 3, 2, 3, 2), 1, (0, 1, 0)),
    "3d_stride2_pad1_op1_groups2": case((1, 4, 2, 2, 3), (4, 1, 3, 3, 3), 2, 1, 1, groups=2),
}


def make(shape: tuple, w_shape: tuple, attrs: dict, bias: bool, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    params = {"weight": rng.standard_normal(w_shape)}
    if bias:
        params["bias"] = rng.standard_normal(w_shape[1] * attrs["groups"])
    return rng.standard_normal(shape), params


# Stride-1 cases run in either im2col layout depending on the cost rule: pin each in turn.
LAYOUTS = {"shift": 1e9, "strided": -1.0}


@pytest.mark.parametrize("name,layout", [
    (name, layout) for name, (_, _, attrs, _) in CASES.items() for layout in LAYOUTS
    if layout == "strided" or max(attrs["stride"]) == 1])
def test_conv_transpose_gradient(name: str, layout: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(conv, "GRID_WASTE", LAYOUTS[layout])
    shape, w_shape, attrs, bias = CASES[name]
    x, params = make(shape, w_shape, attrs, bias)
    check_kernel(conv_transpose, [x], params, attrs)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
@pytest.mark.parametrize("name", CASES)
def test_conv_transpose_matches_torch(name: str, dtype: type, tol: float) -> None:
    torch = pytest.importorskip("torch")
    shape, w_shape, attrs, bias = CASES[name]
    x, params = make(shape, w_shape, attrs, bias, seed=1)
    x, params = x.astype(dtype), {k: v.astype(dtype) for k, v in params.items()}
    y, saved = conv_transpose.forward(np, [x], params, attrs, True)
    dy = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
    dy_before = dy.copy()
    (dx,), grads = conv_transpose.backward(np, dy, saved, params, attrs)

    tx = torch.tensor(x, requires_grad=True)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    f = getattr(torch.nn.functional, f"conv_transpose{len(shape) - 2}d")
    ty = f(tx, tp["weight"], tp.get("bias"), stride=attrs["stride"], padding=attrs["padding"],
           output_padding=attrs["output_padding"], groups=attrs["groups"],
           dilation=attrs["dilation"])
    ty.backward(torch.tensor(dy))
    assert y.shape == tuple(ty.shape)
    assert y.dtype == dx.dtype == grads["weight"].dtype == dtype
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=tol, atol=tol)
    for k, v in tp.items():
        np.testing.assert_allclose(grads[k], v.grad.numpy(), rtol=tol, atol=tol, err_msg=k)
    np.testing.assert_array_equal(dy, dy_before)
