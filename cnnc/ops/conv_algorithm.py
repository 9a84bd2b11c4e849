"""How each convolution runs: im2col and one GEMM, or Winograd F(4x4, 3x3).

A rule of the layer's shapes and the device, recorded in the step's attributes (`algorithm`)
so that the plan says what runs and `cnnc compile --fuse` shows it. Winograd
(runtime/kernels/winograd.py) takes 36 multiplications per 4x4 block of output and channel
pair where im2col takes 144, at the cost of transforms before and after, and computes the same
convolution to about 1e-5 of the largest output in float32 (im2col: about 1e-6).

Measured on 2 cores (a training step of one layer, Winograd against im2col): 0.13-0.4x for
8-1024 channels on 4x4 to 256x256 maps, 0.6x for 3 input channels; on 2x2 maps, where one
4x4 tile holds a quarter of real outputs, 1.8x. So a map whose 4x4 tiles waste more than
half of their area stays on im2col.
"""

from __future__ import annotations

from typing import Any

from cnnc_runtime.plan import Shape

ALGORITHMS = ("im2col", "winograd")
MAX_TILE_WASTE = 2.0  # tiled area / output area


def conv_algorithm(attrs: dict[str, Any], weight: Shape, out: Shape, device: str) -> str:
    """`winograd` for a 2D 3x3 convolution with stride 1, no dilation, one group and zero
    padding on the CPU, unless its output (C, Ho, Wo) is too small for 4x4 tiles; `im2col`
    otherwise. On a GPU every conv is im2col + cuBLAS (the Winograd kernels are written for
    the CPU's caches)."""
    if device != "cpu" or len(weight) != 4 or tuple(weight[2:]) != (3, 3):
        return "im2col"
    plain = (tuple(attrs["stride"]) == (1, 1) and tuple(attrs["dilation"]) == (1, 1)
             and attrs["groups"] == 1 and attrs["padding_mode"] == "zeros")
    ho, wo = out[1:]
    tiled = 16 * -(-ho // 4) * -(-wo // 4)
    return "winograd" if plain and tiled <= MAX_TILE_WASTE * ho * wo else "im2col"
