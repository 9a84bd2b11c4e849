import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc.ops.crop import RULE
from cnnc_runtime.kernels import crop

CASES = [  # x shape, reference shape (only its spatial size matters)
    ((2, 2, 7), (2, 5, 4)),  # odd difference: the extra cell is dropped after
    ((2, 3, 6, 7), (2, 1, 4, 4)),
    ((1, 2, 8, 8), (1, 2, 8, 8)),  # nothing to drop
    ((1, 2, 9, 6), (1, 4, 2, 5)),
    ((1, 2, 5, 6, 7), (1, 3, 2, 3, 4)),
]


def crop_attrs(x_shape, ref_shape):
    """The kernel's attributes as the compiler lowers them: the reference is a size input
    (Rule.size_inputs), so the kernel sees only x."""
    xs = (x_shape[1:], ref_shape[1:])
    return RULE.lower(None, xs, RULE.infer(None, xs))


@pytest.mark.parametrize("x_shape, ref_shape", CASES)
def test_crop_gradient(x_shape, ref_shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    a = crop_attrs(x_shape, ref_shape)
    check_kernel(crop, [x], {}, a)
    y, saved = crop.forward(np, [x], {}, a, True)
    assert y.shape == x_shape[:2] + ref_shape[2:]
    (dx,), _ = crop.backward(np, np.ones(y.shape), saved, {}, a)
    assert dx.shape == x_shape


def test_crop_drops_the_odd_cell_after():
    """(x - ref) // 2 cells dropped before, the odd one after (cnnc/ops/crop.py's rule;
    torchvision's center_crop rounds half to even and differs when x - ref is 3 mod 4)."""
    x = np.arange(2 * 3 * 11 * 8, dtype=np.float32).reshape(2, 3, 11, 8)
    y, _ = crop.forward(np, [x], {}, crop_attrs(x.shape, (2, 1, 6, 5)), True)
    np.testing.assert_array_equal(y, x[:, :, 2:8, 1:6])
    assert y.dtype == np.float32 and y.flags.c_contiguous
