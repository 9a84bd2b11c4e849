"""GELU, SiLU, hard swish/sigmoid, GroupNorm and LayerNorm in one compiled network: the counts
`cnnc compile` reports, PyTorch's initialisation, and a training step against the same network
written in PyTorch (forward, loss, input and parameter gradients, float64)."""

import numpy as np
import pytest
from torch_step import assert_training_step_matches

from cnnc import build_model, compile_text

SPEC = """
name: modern
input: [3, 8, 8]
layers:
  - {id: stem, op: conv, out: 8, kernel: 3, padding: 1}
  - {id: gn, op: groupnorm, groups: 4}
  - {id: act1, op: gelu}
  - {id: dw, op: conv, out: 8, kernel: 3, padding: 1, groups: depthwise}
  - {id: ln, op: layernorm, eps: 0.000001}
  - {id: pw, op: conv, out: 16, kernel: 1}
  - {id: act2, op: gelu, approximate: tanh}
  - {id: act3, op: silu}
  - {id: act4, op: hardswish}
  - {id: act5, op: hardsigmoid}
  - {op: global_avgpool}
  - {op: flatten}
  - {id: fc, op: linear, out: 5}
"""


def test_compile_counts_norm_parameters_and_no_macs():
    c = compile_text(SPEC)
    # stem 8*27+8, gn 2*8, dw 8*9+8, ln 2*8, pw 16*8+16, fc 16*5+5
    assert c.totals.params == c.totals.trainable_params == 224 + 16 + 80 + 16 + 144 + 85
    assert c.totals.buffers == 0
    # convs: output elements x Cin/groups x kernel; linear: in x out; norms and activations: 0
    assert c.totals.macs == 8 * 64 * 27 + 8 * 64 * 9 + 16 * 64 * 8 + 16 * 5


def test_norms_start_as_the_identity_map():
    m = build_model(compile_text(SPEC), dtype="float64", seed=0)
    for norm in ("gn", "ln"):
        np.testing.assert_array_equal(m.params[f"{norm}.weight"], np.ones(8))
        np.testing.assert_array_equal(m.params[f"{norm}.bias"], np.zeros(8))


def torch_model():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class LayerNorm2d(nn.LayerNorm):
        """ConvNeXt's: LayerNorm over the channels of an NCHW map."""

        def forward(self, x):
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    class Hardsigmoid(nn.Module):
        """nn.Hardsigmoid's definition: its float64 backward scales by 1/6 rounded to float32,
        3e-8 off (tests/runtime/kernels/test_activations.py compares with it)."""

        def forward(self, x):
            return nn.functional.relu6(x + 3) / 6

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.GroupNorm(4, 8), nn.GELU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), LayerNorm2d(8, eps=1e-6),
        nn.Conv2d(8, 16, 1), nn.GELU(approximate="tanh"), nn.SiLU(), nn.Hardswish(),
        Hardsigmoid(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5)).double()


def test_training_step_matches_pytorch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch_model()
    with torch.no_grad():  # norms away from the identity, so their gradients are tested
        for norm in (reference[1], reference[4]):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
    assert_training_step_matches(SPEC, reference)
