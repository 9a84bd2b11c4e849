"""What the ONNX import tests compare: an imported spec's figures and parameter layout against
the network it came from, and the imported model's outputs against the original's."""

from __future__ import annotations

import numpy as np

import cnnc
from cnnc.compiler import Compiled, compile_text
from cnnc.ir import keys
from cnnc.onnx_import.model import import_model


def imported(model, name: str = "net"):
    """(compiled imported spec, its checkpoint tensors, the spec text)."""
    text, tensors = import_model(model, f"{name}.onnx", name)
    return compile_text(text, f"{name}.yaml"), tensors, text


def figures(c: Compiled) -> tuple:
    t = c.totals
    return t.params, t.trainable_params, t.buffers, t.macs, c.input_shape, c.output_shape


def layout(c: Compiled) -> list[tuple[tuple[int, ...], ...]]:
    """The parameter and buffer shapes of each layer that has any, in graph order."""
    out = []
    for node in c.layers:
        d = c.node(node)
        shapes = tuple(tuple(s) for s in {**d[keys.PARAMS], **d[keys.BUFFERS]}.values())
        if shapes:
            out.append(shapes)
    return out


def assert_outputs_equal(c: Compiled, tensors, x: np.ndarray, want: np.ndarray,
                         rtol: float = 1e-5) -> None:
    """The imported network with the imported tensors computes `want` from `x`."""
    m = cnnc.build_model(c, dtype="float32")
    m.load(tensors)
    got = m.forward(x)
    scale = np.abs(want).max()
    assert scale > 0, "the output is all zeros, which proves nothing"
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= rtol * scale, np.abs(got - want).max() / scale
    if len(x) > 1:  # the input reaches the output
        assert np.abs(want[0] - want[1]).max() > 1e-3 * scale
