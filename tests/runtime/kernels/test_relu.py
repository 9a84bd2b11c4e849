import numpy as np
from gradcheck import check_kernel

from cnnc_runtime.kernels import relu


def test_relu_gradient():
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    check_kernel(relu, [x], {}, {})
