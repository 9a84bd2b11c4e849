"""cnnc: a declarative graph compiler for convolutional networks.

    >>> import cnnc
    >>> net = cnnc.compile_file("resnet18")          # a zoo name or a path to a YAML spec
    >>> net.totals.params, net.output_shape
    (11689512, (1000,))
"""

from cnnc.compiler import Compiled, Totals, compile_file, compile_text
from cnnc.errors import CnncError

__all__ = ["CnncError", "Compiled", "Totals", "compile_file", "compile_text"]
__version__ = "0.1.0"
