"""Back ends that write a compiled network in another framework's format (ONNX).

`cnnc.export.to_onnx(compiled, weights=None, opset=17, fold_bn=False, seed=0)` gives an
onnx.ModelProto (cnnc/export/model.py); this package imports onnx and the runtime only then.
"""

from __future__ import annotations

from typing import Any


def to_onnx(*args: Any, **kwargs: Any) -> Any:
    """cnnc.export.model.to_onnx, imported on first use (it needs pip install 'cnnc[onnx]')."""
    from cnnc.export.model import to_onnx as export
    return export(*args, **kwargs)
