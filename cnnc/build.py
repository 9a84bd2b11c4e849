"""The Python API to run a spec: compile, lower and hand the Plan to the runtime.

    >>> import cnnc, numpy as np
    >>> model = cnnc.build_model("lenet5", seed=0)
    >>> model.forward(np.zeros((2, 1, 32, 32))).shape
    (2, 10)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnc.compiler import Compiled, compile_file
from cnnc.lower import lower
from cnnc_runtime.device import array_module
from cnnc_runtime.model import Model


def build_model(spec: str | Path | Compiled, input_shape: tuple[int, ...] | None = None,
                dtype: Any = "float32", seed: int = 0, fuse: bool = True,
                device: str = "cpu") -> Model:
    """A runnable model of a spec (a zoo name, a path, or a compiled network) with PyTorch's
    default initialisation under `seed`, on `device` ("cpu": NumPy, "gpu": CuPy; the same
    initial values on both). `fuse=False` runs one kernel per layer and no BN folding, which
    is slower and only useful to check the fused path. `model.to_onnx()` exports it with its
    current weights."""
    c = spec if isinstance(spec, Compiled) else compile_file(spec, input_shape)
    return Model(lower(c, fuse=fuse, device=device), xp=array_module(device), dtype=dtype,
                 seed=seed, network=c)
