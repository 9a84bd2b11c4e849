"""cnnc: a declarative graph compiler for convolutional networks.

    >>> import cnnc
    >>> net = cnnc.compile_file("resnet18")          # a zoo name or a path to a YAML spec
    >>> net.totals.params, net.output_shape
    (11689512, (1000,))
    >>> model = cnnc.build_model("lenet5")           # runnable on NumPy: see cnnc/build.py
"""

from typing import Any

from cnnc.compiler import Compiled, Totals, compile_file, compile_text
from cnnc.errors import CnncError

__all__ = ["CnncError", "Compiled", "Totals", "build_model", "compile_file", "compile_text"]


def build_model(*args: Any, **kwargs: Any) -> Any:
    """cnnc.build.build_model, imported on first use so `cnnc compile` never loads the
    runtime or NumPy."""
    from cnnc.build import build_model as build
    return build(*args, **kwargs)
__version__ = "0.1.0"
