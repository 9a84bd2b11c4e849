import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime.kernels import crop

CASES = [  # x shape, reference shape (only its spatial size matters)
    ((2, 2, 7), (2, 5, 4)),  # odd difference: the extra cell is dropped after
    ((2, 3, 6, 7), (2, 1, 4, 4)),
    ((1, 2, 8, 8), (1, 2, 8, 8)),  # nothing to drop
    ((1, 2, 9, 6), (1, 4, 2, 5)),
    ((1, 2, 5, 6, 7), (1, 3, 2, 3, 4)),
]


@pytest.mark.parametrize("x_shape, ref_shape", CASES)
def test_crop_gradient(x_shape, ref_shape):
    rng = np.random.default_rng(0)
    x, ref = rng.standard_normal(x_shape), rng.standard_normal(ref_shape)
    check_kernel(crop, [x, ref], {}, {}, wrt_inputs=(0,))
    _, saved = crop.forward(np, [x, ref], {}, {}, True)
    dx, dref = crop.backward(np, np.ones((x_shape[0], x_shape[1]) + ref_shape[2:]), saved, {},
                             {})[0]
    assert dref is None and dx.shape == x_shape


def test_crop_drops_the_odd_cell_after():
    """(x - ref) // 2 cells dropped before, the odd one after (cnnc/ops/crop.py's rule;
    torchvision's center_crop rounds half to even and differs when x - ref is 3 mod 4)."""
    x = np.arange(2 * 3 * 11 * 8, dtype=np.float32).reshape(2, 3, 11, 8)
    y, _ = crop.forward(np, [x, np.zeros((2, 1, 6, 5), np.float32)], {}, {}, True)
    np.testing.assert_array_equal(y, x[:, :, 2:8, 1:6])
    assert y.dtype == np.float32 and y.flags.c_contiguous
