"""Max pooling, 1D/2D/3D. Kernel: runtime/kernels/maxpool.py.

Its extra output `indices` (read as `<id>.indices`, for `maxunpool`) says where each maximum
came from: the flat index within its (n, c) plane of the input, PyTorch's convention
(MaxPool2d(return_indices=True)). ONNX's MaxPool Indices flatten over the whole tensor
instead; an ONNX exporter converts.
"""

from __future__ import annotations

from typing import Literal

from cnnc.ops import onnx_windows
from cnnc.ops.base import PerAxis, Rule
from cnnc.ops.labels import pool_label
from cnnc.ops.pooling import PoolAttrs, dropped, infer, lower, receptive


class MaxPoolAttrs(PoolAttrs):
    op: Literal["maxpool"]
    dilation: PerAxis = 1


RULE = Rule(MaxPoolAttrs, infer, "pool", receptive=receptive, lower=lower, label=pool_label,
            aliases=("maxpool1d", "maxpool2d", "maxpool3d", "max_pool"),
            dropped=dropped, outputs=("indices",), onnx=onnx_windows.maxpool)
