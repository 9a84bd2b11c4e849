import math

import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import upsample


def attrs(shape, mode, scale=None, size=None, align_corners=False):
    """Resolved attrs like the compiler's: `out` from `size`, or floor(in * scale)."""
    n = len(shape) - 2
    if scale is not None:
        scale = tuple(scale) if isinstance(scale, (tuple, list)) else (scale,) * n
        out = tuple(math.floor(s * f) for s, f in zip(shape[2:], scale))
    else:
        out = tuple(size) if isinstance(size, (tuple, list)) else (size,) * n
    return {"out": out, "mode": mode, "align_corners": align_corners, "scale": scale}


CASES = [  # shape, scale, size
    ((2, 2, 4), 2, None),
    ((1, 2, 5), 1.5, None),
    ((1, 2, 7), 0.6, None),  # downsampling
    ((1, 2, 3), 1.2, None),  # out == in with a scale: PyTorch copies
    ((1, 2, 5), None, 8),  # size only, not a multiple
    ((1, 2, 3, 4), 2, None),
    ((1, 2, 4, 3), (1.5, 2.5), None),
    ((1, 1, 5, 6), None, (3, 9)),
    ((1, 1, 2, 3, 2), 2, None),
    ((1, 1, 3, 2, 4), None, (4, 3, 2)),
]


@pytest.mark.parametrize("mode, align_corners", [("nearest", False), ("linear", False),
                                                 ("linear", True)])
@pytest.mark.parametrize("shape, scale, size", CASES)
def test_upsample_gradient(shape, scale, size, mode, align_corners):
    x = np.random.default_rng(0).standard_normal(shape)
    check_kernel(upsample, [x], {}, attrs(shape, mode, scale, size, align_corners))


TORCH_CASES = [  # shape, scale, size
    ((2, 3, 8), 2, None),
    ((2, 3, 7), 1.5, None),
    ((2, 3, 9), 0.5, None),
    ((2, 3, 10), 0.7, None),
    ((2, 3, 6), 3, None),
    ((2, 3, 3), 1.2, None),  # out == in by another scale
    ((2, 3, 5), None, 13),
    ((2, 3, 12), None, 5),
    ((1, 4, 8, 8), 2, None),
    ((1, 4, 3, 5), (1.2, 2.2), None),  # out == in and 2 * in, by other scales
    ((1, 4, 7, 5), (1.5, 2.5), None),
    ((1, 4, 9, 10), (0.5, 0.75), None),
    ((1, 4, 6, 6), (3, 1.7), None),
    ((1, 4, 5, 7), None, (11, 4)),
    ((1, 4, 7, 7), None, (1, 14)),
    ((1, 2, 3, 70), None, (5, 150)),  # long last axes: several GEMM blocks
    ((1, 2, 3, 100), (2, 0.3), None),
    ((2, 2, 64), 2.5, None),
    ((1, 2, 3, 4, 5), 2, None),
    ((1, 2, 4, 3, 5), (1.5, 2, 0.6), None),
    ((1, 2, 3, 5, 4), None, (7, 2, 9)),
    ((1, 2, 3, 3, 5), (1.2, 1.2, 2.2), None),
]


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 1e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("linear", False),
                                                 ("linear", True)])
@pytest.mark.parametrize("shape, scale, size", TORCH_CASES)
def test_upsample_matches_torch(dtype, rtol, mode, align_corners, shape, scale, size):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    a = attrs(shape, mode, scale, size, bool(align_corners))
    if mode == "nearest" and len(shape) != 4 and scale is not None and any(
            m in (n, 2 * n) and m != n * f for n, m, f in zip(shape[2:], a["out"], a["scale"])):
        pytest.skip("PyTorch's own forward and backward disagree here: see the test below")
    torch_mode = mode if mode == "nearest" else ["linear", "bilinear", "trilinear"][len(shape) - 3]
    tx = torch.tensor(x, requires_grad=True)
    # A given scale reaches PyTorch's kernel, which then maps with 1/scale rather than in/out.
    ty = torch.nn.functional.interpolate(tx, size=size, scale_factor=a["scale"], mode=torch_mode,
                                         align_corners=align_corners)
    dy = rng.standard_normal(ty.shape).astype(dtype)
    ty.backward(torch.tensor(dy))

    y, saved = upsample.forward(np, [x], {}, a, True)
    (dx,), _ = upsample.backward(np, dy, saved, {}, a)
    assert y.dtype == dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("ndim", [1, 3])
def test_nearest_shortcuts_follow_torch_backward(ndim):
    """For out == in (or 2 * in) from another scale, PyTorch's 1D and 3D nearest forwards
    compute floor(i / scale) while their backward (and the 2D forward) copy (or halve) the
    index. The kernel takes the shortcut in both directions, so it agrees with PyTorch's
    gradient and stays self-consistent."""
    torch = pytest.importorskip("torch")
    shape = (1, 2) + (1,) * (ndim - 1) + (3,)
    x = np.random.default_rng(0).standard_normal(shape)
    for scale in (1.2, 2.2):
        a = attrs(shape, "nearest", (1,) * (ndim - 1) + (scale,))
        tx = torch.tensor(x, requires_grad=True)
        ty = torch.nn.functional.interpolate(tx, scale_factor=a["scale"], mode="nearest")
        dy = np.random.default_rng(1).standard_normal(ty.shape)
        ty.backward(torch.tensor(dy))
        y, saved = upsample.forward(np, [x], {}, a, True)
        (dx,), _ = upsample.backward(np, dy, saved, {}, a)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12)
        want = np.repeat(x, 2, axis=-1) if scale == 2.2 else x
        np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("spec", [
    {"scale": 2},
    {"scale": [1.5, 0.5], "mode": "bilinear", "align_corners": True},
    {"size": [7, 3], "mode": "bilinear"},
])
def test_kernel_takes_the_lowered_attrs(spec):
    """The compiler's lowered attrs run as they are, and give its inferred shape."""
    from cnnc.ops.upsample import RULE, UpsampleAttrs

    a = UpsampleAttrs(op="upsample", **spec)
    shape = (3, 5, 4)
    y_shape = RULE.infer(a, (shape,))
    x = np.random.default_rng(0).standard_normal((2,) + shape)
    y, _ = upsample.forward(np, [x], {}, RULE.lower(a, (shape,), y_shape), True)
    assert y.shape == (2,) + y_shape


REFERENCE_CASES = [  # x shape, the reference's shape (only its spatial size matters), mode
    ((2, 3, 4, 5), (2, 7, 9, 10), "bilinear"),  # a U-Net skip: not a whole factor
    ((2, 3, 4, 4), (2, 1, 8, 8), "nearest"),
    ((1, 2, 6, 5), (1, 2, 3, 7), "bilinear"),  # one axis shrinks
    ((1, 2, 5), (1, 4, 11), "linear"),
    ((1, 1, 2, 3, 2), (1, 1, 3, 5, 4), "nearest"),
]


@pytest.mark.parametrize("x_shape, ref_shape, mode, align_corners", [
    (*case, align) for case in REFERENCE_CASES for align in (False, True)
    if not (align and case[2] == "nearest")])  # refused there (tests/cnnc/ops)
def test_upsample_to_a_reference_matches_torch_size(x_shape, ref_shape, mode, align_corners):
    """`from: [x, skip]` lowers to F.interpolate(x, size=skip's spatial size): skip is a size
    input (Rule.size_inputs), which the kernel is not given; the float64 check holds for the
    path the compiler lowers."""
    torch = pytest.importorskip("torch")
    from cnnc.ops.upsample import RULE, UpsampleAttrs

    a = UpsampleAttrs(op="upsample", mode=mode, align_corners=align_corners)
    shapes = (x_shape[1:], ref_shape[1:])
    y_shape = RULE.infer(a, shapes)
    kernel_attrs = RULE.lower(a, shapes, y_shape)
    rng = np.random.default_rng(0)
    assert RULE.size_inputs == (1,)
    x = rng.standard_normal(x_shape)
    check_kernel(upsample, [x], {}, kernel_attrs)

    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.interpolate(tx, size=ref_shape[2:], mode=mode,
                                         align_corners=align_corners if mode != "nearest" else None)
    dy = rng.standard_normal(ty.shape)
    ty.backward(torch.tensor(dy))
    y, saved = upsample.forward(np, [x], {}, kernel_attrs, True)
    (dx,), _ = upsample.backward(np, dy, saved, {}, kernel_attrs)
    assert y.shape == (x_shape[0], *y_shape)
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
