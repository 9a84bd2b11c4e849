"""Golden tests: every zoo model against the independent PyTorch figures in reference_figures.json.

The figures were measured on PyTorch implementations written from torchvision and the papers:
the first ones copied from shared/reference/figures.json so the suite stands alone, the classic
CNNs added later (tests/runtime/torch_classics.py) measured by tests/runtime/measure_figures.py,
which reproduces the copied entries of every model it has.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cnnc
from cnnc.ir import keys
from cnnc.zoo import zoo_names

REFERENCE = json.loads((Path(__file__).parent / "reference_figures.json").read_text())

# Ops whose outputs the reference's `act_elems` counts (PyTorch module outputs; flatten, dropout,
# concat, add, mul and crop are views or glue there).
COUNTED_OUTPUTS = {"conv", "conv_transpose", "linear", "batchnorm", "lrn", "upsample", "maxpool",
                   "avgpool", "global_avgpool", "global_maxpool", "adaptive_avgpool",
                   "adaptive_maxpool", "maxunpool", "relu", "leaky_relu", "relu6", "sigmoid",
                   "tanh", "softmax", "hardswish", "hardsigmoid", "silu", "gelu", "layernorm",
                   "groupnorm"}


@pytest.fixture(scope="module", params=sorted(REFERENCE))
def model(request):
    return request.param, cnnc.compile_file(request.param), REFERENCE[request.param]


def test_every_reference_model_is_in_the_zoo():
    assert set(REFERENCE) <= set(zoo_names())


def test_totals_match_reference(model):
    _, c, ref = model
    t = c.totals
    assert (t.params, t.trainable_params, t.buffers, t.macs) == (
        ref["params"], ref["trainable"], ref["buffers"], ref["macs"])


def test_macs_split_matches_reference(model):
    _, c, ref = model
    inference = [n for n in c.layers if not c.node(n)[keys.TRAINING_ONLY]]
    by_op = lambda ops: sum(c.node(n)[keys.MACS] for n in inference
                            if c.node(n)[keys.LAYER].op in ops)
    assert by_op({"conv", "conv_transpose"}) == ref["macs_conv"]
    assert by_op({"linear"}) == ref["macs_linear"]


def test_shapes_match_reference(model):
    _, c, ref = model
    assert list(c.input_shape) == ref["input_shape"][1:]
    assert list(c.output_shape) == ref["output_shape"][1:]


def test_activation_elements_match_reference(model):
    """Every intermediate shape at once: the summed sizes of the counted outputs agree."""
    _, c, ref = model
    total = 0
    for n in c.layers:
        d = c.node(n)
        if not d[keys.TRAINING_ONLY] and d[keys.LAYER].op in COUNTED_OUTPUTS:
            size = 1
            for dim in d[keys.SHAPE]:
                size *= dim
            total += size
    assert total == ref["act_elems"]


def test_zoo_specs_open_with_a_paper_comment():
    for name in zoo_names():
        first = (Path(cnnc.zoo.zoo_dir()) / f"{name}.yaml").read_text().lstrip()
        assert first.startswith("#"), f"{name}.yaml must open with a comment naming its source"
