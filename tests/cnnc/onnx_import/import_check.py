"""What the ONNX import tests compare: an imported spec's figures and parameter layout against
the network it came from, and the imported model's outputs against the original's; and the
round trip export -> import that most of them run."""

from __future__ import annotations

import numpy as np

import cnnc
from cnnc.compiler import Compiled, compile_text
from cnnc.export.model import to_onnx
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


def assert_outputs_equal(c: Compiled, tensors, x: np.ndarray, want: np.ndarray | list,
                         rtol: float = 1e-5) -> None:
    """The imported network with the imported tensors computes `want` from `x`: its first
    output, or a list with one array per network output."""
    m = cnnc.build_model(c, dtype="float32")
    m.load(tensors)
    m.forward(x)
    wants = want if isinstance(want, list) else [want]
    assert len(wants) <= len(c.outputs)
    for output, w in zip(c.outputs, wants):
        got, scale = np.asarray(m.outputs[output]), np.abs(w).max()
        assert scale > 0, f"{output}: the output is all zeros, which proves nothing"
        assert got.shape == w.shape, output
        assert np.abs(got - w).max() <= rtol * scale, (output, np.abs(got - w).max() / scale)
        if len(x) > 1:  # the input reaches the output
            assert np.abs(w[0] - w[1]).max() > 1e-3 * scale, output


def randomised(c: Compiled):
    """A model whose BatchNorms have random statistics and affine maps (fresh ones are the
    identity, which would hide a swapped mean and variance or a lost affine map)."""
    m = cnnc.build_model(c, dtype="float32")
    rng = np.random.default_rng(1)
    for name, value in m.tensors().items():
        if name.endswith(".weight") and value.ndim >= 2:
            m.set(name, value * np.sqrt(6))  # He's gain, so that deep nets keep their signal
        elif value.ndim == 1:
            m.set(name, rng.uniform(0.5, 1.5, value.shape) if name.endswith(("var", "weight"))
                  else rng.normal(0, 0.1, value.shape))
    return m


def round_trip(c: Compiled, name: str = "net", batch: int = 2) -> str:
    """Export `c` with random weights, import it: the same figures, layout and outputs (on
    `batch` samples; with two or more, different samples must give different outputs).
    Returns the imported spec's text."""
    m = randomised(c)
    back, tensors, text = imported(to_onnx(c, m.tensors(), training_heads=True), name)
    assert figures(back) == figures(c)
    assert layout(back) == layout(c)
    x = np.random.default_rng(2).standard_normal((batch, *c.input_shape)).astype(np.float32)
    assert_outputs_equal(back, tensors, x, m.forward(x))
    return text
