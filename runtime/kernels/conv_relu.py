"""Fused conv -> ReLU, in training and in inference (where a folded conv + BN + ReLU also
runs as this kernel). Pattern: cnnc/lower/fuse.py. Params: the conv's; attrs: `conv`.

The bias and the ReLU ride on the copy that takes each GEMM result out of its column layout
(the conv's epilogue): one pass over the output, `bias_relu` on the GPU, whose NumPy reference
`bias_relu_reference` does the same in two.
"""

from __future__ import annotations

import math
from typing import Any

from cnnc_runtime import device
from cnnc_runtime.kernels import conv, relu

SKIPS_DX = True  # passes need_dx on (see conv.SKIPS_DX)


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """y (N, O, *out) = relu(conv(x) + bias)."""
    y, saved = conv.convolve(xp, inputs, params, attrs["conv"], training, bias_relu, relu=True)
    return y, (saved, y)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             need_dx: bool = True) -> tuple[list, dict]:
    inner, y = saved
    return conv.backward(xp, relu.mask(xp, dy, y), inner, params, attrs["conv"], need_dx)


def bias_relu(xp: Any, src: Any, bias: Any, out: Any) -> None:
    """out (N, O, *S) = max(src + bias[o], 0), src any view of the GEMM's result (it may be
    `out` itself); bias (O,) or None. NaN stays NaN, as in np.maximum."""
    if device.on_gpu(xp):
        _launch(xp, src, bias, out)
    else:
        bias_relu_reference(xp, src, bias, out)


def bias_relu_reference(xp: Any, src: Any, bias: Any, out: Any) -> None:
    conv.add_bias(xp, src, bias, out)
    xp.maximum(out, 0, out=out)


# One thread per output element; blockIdx.y walks the (image, channel) rows, so the channel and
# the image come from one division per row, and the spatial index from one per element.
CUDA_SOURCE = r"""
extern "C" __global__ void cnnc_bias_relu(
        const T* src, const T* bias, T* out, long long rows, long long channels, long long size,
        long long height_, long long width_, long long s_n, long long s_c, long long s_d,
        long long s_h, long long s_w) {
    const int height = (int)height_, width = (int)width_;
    for (long long row = blockIdx.y; row < rows; row += gridDim.y) {
        const long long n = row / channels;
        const int c = (int)(row - n * channels);
        const T* from = src + n * s_n + c * s_c;
        const T b = bias[c];
        T* to = out + row * size;
        for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < size;
             p += (long long)gridDim.x * blockDim.x) {
            const int q = (int)p;  // size < 2**31 (checked): 32-bit divisions
            const int hw = q / width, d = hw / height;
            const int x = q - hw * width, y = hw - d * height;
            const T v = from[d * s_d + y * s_h + x * s_w] + b;
            to[p] = v < (T)0 ? (T)0 : v;
        }
    }
}
"""


def _launch(cupy: Any, src: Any, bias: Any, out: Any) -> None:
    n, c, *spatial = out.shape
    if bias is None:
        bias = cupy.zeros(c, out.dtype)
    device.check_launch("cnnc_bias_relu", out.dtype, bias=bias, out=out)
    assert src.dtype == out.dtype and src.shape == out.shape, "cnnc_bias_relu: src misfits out"
    h, w = ([1, 1] + spatial)[-2:]  # 1D and 2D maps as 3D with unit axes
    steps = [s // src.itemsize for s in src.strides]
    s_n, s_c = steps[:2]
    s_d, s_h, s_w = [0] * (3 - len(spatial)) + steps[2:]
    size = math.prod(spatial)
    assert size < 2**31, "cnnc_bias_relu: a feature map of 2**31 positions or more"
    threads = min(device.THREADS, 32 * -(-size // 32))  # small maps: no idle warps
    grid = (device.grid_for(size, threads), min(n * c, 65535))
    kernel = device.cuda_function(CUDA_SOURCE, "cnnc_bias_relu", out.dtype)
    device.launch(kernel, grid, threads, src, bias, out, n * c, c, size, h, w, s_n, s_c, s_d,
                  s_h, s_w)
