"""cnnc's forms of the norms and their neighbours on 1D and 3D maps (the variants test has 2D
maps and vectors) round-trip, and ONNX's own GroupNormalization node imports where cnnc's
groupnorm computes it: its scale per channel (opset 21) or fixed ones (any opset)."""

from __future__ import annotations

import re

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from import_check import assert_outputs_equal, imported, round_trip
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from cnnc.compiler import compile_text
from cnnc.errors import CnncError

CNNC_NORMS = ("{op: layernorm}\n  - {op: groupnorm, groups: 2}\n  - {op: scale}\n  - {op: lrn, "
              "size: 2}\n  - {op: gelu}\n  - {op: stack, axis: -1, from: [scale_1, gelu_1]}")


@pytest.mark.parametrize("shape", ["[4, 11]", "[4, 3, 5, 6]"], ids=["1d", "3d"])
def test_cnnc_forms_on_1d_and_3d_maps_round_trip(shape):
    """cnnc's export of the same layers on other ranks (the variants test has 2D maps)."""
    text = round_trip(compile_text(f"name: t\ninput: {shape}\nlayers:\n  - {CNNC_NORMS}\n"))
    assert re.findall(r"op: (\w+)", text) == re.findall(r"op: (\w+)", CNNC_NORMS)


MAP = (4, 3, 3)


def group_normalization(opset: int, per: int, literal: bool) -> onnx.ModelProto:
    """One GroupNormalization node (2 groups of a MAP) with a scale and shift of `per` values:
    initializers, or Constant nodes of ones and zeros when `literal`."""
    rng = np.random.default_rng(3)
    values = [np.ones(per), np.zeros(per)] if literal else [rng.uniform(0.5, 1.5, per),
                                                            rng.normal(0, 0.1, per)]
    tensors = [numpy_helper.from_array(v.astype(np.float32), name)
               for v, name in zip(values, ("s", "b"))]
    consts = [helper.make_node("Constant", [], [t.name], value=t) for t in tensors]
    node = helper.make_node("GroupNormalization", ["x", "s", "b"], ["y"], name="gn",
                            num_groups=2, epsilon=1e-3)
    graph = helper.make_graph(
        [*consts, node] if literal else [node], "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *MAP])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", *MAP])],
        initializer=[] if literal else tensors)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize(("opset", "per", "literal"),
                         [(21, MAP[0], False), (18, 2, True), (21, MAP[0], True)])
def test_onnx_group_normalization_node_imports(opset, per, literal):
    model = group_normalization(opset, per, literal)
    back, tensors, text = imported(model)
    entry = "{id: gn, op: groupnorm, groups: 2, eps: 0.001" + (", affine: false" if literal else "")
    assert entry + "}" in text
    assert back.totals.params == (0 if literal else 2 * MAP[0])
    x = np.random.default_rng(4).standard_normal((2, *MAP)).astype(np.float32)
    assert_outputs_equal(back, tensors, x, ReferenceEvaluator(model).run(None, {"x": x})[0])


def test_onnx_group_normalization_before_opset_21_with_a_scale_per_group_is_listed():
    with pytest.raises(CnncError) as e:
        imported(group_normalization(18, 2, literal=False))
    (line,) = str(e.value).splitlines()
    assert "node 'gn' (GroupNormalization): a scale and shift per group (opset 18" in line
