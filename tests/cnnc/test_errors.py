"""Every mistake a user can make gets a kind, a line and a column (1-based), and all errors of a
phase come together. Each case is a small spec and the (kind, line, col) it must produce."""

from __future__ import annotations

import textwrap

import pytest

from cnnc import CnncError, compile_text


def errors(spec: str) -> list[tuple[str, int, int]]:
    with pytest.raises(CnncError) as info:
        compile_text(textwrap.dedent(spec), "spec.yaml")
    return [(d.kind, d.span.line, d.span.col) for d in info.value.diagnostics]


def message(spec: str) -> str:
    with pytest.raises(CnncError) as info:
        compile_text(textwrap.dedent(spec), "spec.yaml")
    return str(info.value)


HEAD = "name: t\ninput: [3, 32, 32]\n"


def test_yaml_syntax():
    assert errors(HEAD + "layers:\n  - {op: conv, out: 3\n") == [("yaml", 5, 1)]


def test_yaml_python_tags_are_refused():
    spec = HEAD + "layers:\n  - !!python/object/apply:os.system [ls]\n"
    assert errors(spec) == [("yaml", 4, 5)]


def test_yaml_duplicate_key():
    assert errors(HEAD + "layers:\n  - {op: relu, op: tanh}\n") == [("yaml", 4, 16)]


def test_unknown_op_suggests_the_closest():
    spec = HEAD + "layers:\n  - {op: convv, out: 3, kernel: 3}\n"
    assert errors(spec) == [("unknown-op", 4, 10)]
    assert "did you mean 'conv'?" in message(spec)


def test_unknown_and_missing_attributes_and_wrong_types_together():
    spec = HEAD + """\
layers:
  - {op: conv, out: 8, kernal: 3}
  - {op: conv, out: eight, kernel: 3}
  - {op: maxpool, kernel: 2, ceil_mode: 1}
"""
    # the misspelt `kernal` explains the missing `kernel`: one diagnostic says both
    assert errors(spec) == [("unknown-attribute", 4, 24), ("type", 5, 21), ("type", 6, 41)]
    text = message(spec)
    assert "did you mean 'kernel'? `conv` needs `kernel`" in text
    assert "`out` of `conv` must be an integer > 0; got 'eight'" in text


def test_spec_level_keys():
    assert errors("name: t\nlayers: [{op: relu}]\ninputs: [3]\n") == [("unknown-attribute", 3, 1)]
    assert "did you mean 'input'? the spec needs `input`" in message(
        "name: t\nlayers: [{op: relu}]\ninputs: [3]\n")
    assert errors("name: t\nlayers: [{op: relu}]\nshape: [3]\n") == [
        ("missing-attribute", 1, 1), ("unknown-attribute", 3, 1)]  # nothing close: both


def test_unknown_reference_suggests_the_closest():
    spec = HEAD + "layers:\n  - {id: conv1, op: conv, out: 8, kernel: 3}\n  - {op: relu, from: conv}\n"
    assert errors(spec) == [("reference", 5, 22)]
    assert "did you mean 'conv1'?" in message(spec)


def test_duplicate_id_points_at_both():
    spec = HEAD + "layers:\n  - {id: a, op: relu}\n  - {id: a, op: tanh}\n"
    assert errors(spec) == [("duplicate-id", 5, 10)]
    assert "spec.yaml:4:5: note: first defined here" in message(spec)


def test_cycle():
    spec = HEAD + """\
layers:
  - {id: a, op: relu, from: c}
  - {id: b, op: relu}
  - {id: c, op: add, from: [b, input]}
"""
    assert errors(spec) == [("cycle", 4, 5)]
    assert "a -> b -> c -> a" in message(spec)


def test_wrong_number_of_inputs():
    spec = HEAD + "layers:\n  - {op: relu}\n  - {op: add, from: [relu_1]}\n  - {op: crop, from: [add_1, relu_1, input]}\n"
    assert errors(spec) == [("arity", 5, 21), ("arity", 6, 22)]


def test_reference_cycle_and_arity_errors_come_together():
    spec = HEAD + """\
layers:
  - {id: a, op: relu, from: b}
  - {id: b, op: relu, from: a}
  - {id: c, op: add, from: [nope]}
"""
    assert [k for k, _, _ in errors(spec)] == ["cycle", "reference"]


def test_unused_layer():
    spec = HEAD + "layers:\n  - {id: side, op: relu}\n  - {op: tanh, from: input}\n"
    assert errors(spec) == [("unused", 4, 5)]


def test_channel_mismatch_at_a_conv():
    spec = HEAD + "layers:\n  - {op: conv, out: 8, kernel: 3}\n  - {op: conv, in: 16, out: 8, kernel: 3}\n"
    assert errors(spec) == [("channels", 5, 20)]
    assert "expects 16 input channels, got 8" in message(spec)


def test_groups_must_divide_channels():
    spec = HEAD + "layers:\n  - {op: conv, out: 8, kernel: 3, groups: 2}\n"
    assert errors(spec) == [("channels", 4, 43)]


def test_shape_mismatch_at_add_names_inputs_and_dimension():
    spec = HEAD + """\
layers:
  - {id: a, op: conv, out: 8, kernel: 3, padding: 1}
  - {id: b, op: conv, out: 8, kernel: 3, stride: 2, padding: 1, from: input}
  - {id: sum, op: add, from: [a, b]}
"""
    assert errors(spec) == [("shape", 6, 30)]
    text = message(spec)
    assert "input 0 is 8x32x32, input 1 is 8x16x16 (spatial axis 1: 32 vs 16)" in text
    assert "'a' (conv) gives 8x32x32" in text and "'b' (conv) gives 8x16x16" in text


@pytest.mark.parametrize("op", ["concat", "mul"])
def test_shape_mismatch_at_concat_and_mul(op):
    spec = HEAD + f"""\
layers:
  - {{id: a, op: conv, out: 8, kernel: 3}}
  - {{id: b, op: conv, out: 8, kernel: 3, padding: 1, from: input}}
  - {{op: {op}, from: [a, b]}}
"""
    assert errors(spec) == [("shape", 6, 18 + len(op))]


def test_size_below_one_names_the_layer_and_the_input():
    spec = HEAD + """\
layers:
  - {id: pool1, op: maxpool, kernel: 16}
  - {id: pool2, op: maxpool, kernel: 4}
"""
    assert errors(spec) == [("size", 5, 38)]
    text = message(spec)
    assert "layer 'pool2'" in text and "'pool1' (maxpool) gives 3x2x2" in text


def test_several_shape_errors_come_together():
    spec = HEAD + """\
layers:
  - {id: a, op: conv, out: 8, kernel: 64, from: input}
  - {id: b, op: linear, out: 3, from: input}
  - {op: concat, from: [a, b]}
"""
    assert [k for k, _, _ in errors(spec)] == ["size", "shape"]


BLOCKS = HEAD + """\
blocks:
  unit:
    args: {out: null, stride: 1}
    layers:
      - {op: conv, out: $out, kernel: 3, stride: $stride, padding: 1}
      - {op: relu}
"""


def test_block_argument_unknown_and_missing():
    spec = BLOCKS + "layers:\n  - {block: unit, out: 8, strid: 2}\n  - {block: unit}\n"
    assert errors(spec) == [("block-arg", 10, 27), ("block-arg", 11, 5)]
    assert "did you mean 'stride'?" in message(spec)


def test_block_body_uses_an_undeclared_argument():
    spec = HEAD + """\
blocks:
  unit:
    args: {out: 8}
    layers:
      - {op: conv, out: $width, kernel: 3}
layers:
  - {block: unit}
"""
    assert errors(spec) == [("block-arg", 7, 25)]


def test_unknown_block():
    spec = BLOCKS + "layers:\n  - {block: unti, out: 8}\n"
    assert errors(spec) == [("unknown-block", 10, 13)]
    assert "did you mean 'unit'?" in message(spec)


def test_bad_expression():
    spec = BLOCKS + "layers:\n  - {block: unit, out: '$i +'}\n"
    assert errors(spec) == [("expression", 10, 24)]


def test_expression_refuses_calls():
    spec = BLOCKS + "layers:\n  - {block: unit, out: '__import__(\"os\").getcwd() + $out'}\n"
    assert [k for k, _, _ in errors(spec)] == ["expression"]


def test_recursion_between_blocks():
    spec = HEAD + """\
blocks:
  a:
    layers:
      - {block: b}
  b:
    layers:
      - {op: relu}
      - {block: a}
layers:
  - {block: a}
"""
    assert errors(spec) == [("recursion", 6, 17)]
    assert "a -> b -> a" in message(spec)


def test_errors_inside_a_block_name_the_instance():
    spec = BLOCKS + "layers:\n  - {op: flatten}\n  - {id: stage1, block: unit, out: 8}\n"
    assert errors(spec) == [("shape", 7, 9)]
    text = message(spec)
    assert "layer 'stage1.conv_1' (conv): conv needs a feature map" in text
    assert "spec.yaml:11:5: note: in 'stage1', an instance of block `unit`" in text


def test_an_attribute_inside_a_block_points_at_the_block_body():
    spec = HEAD + """\
blocks:
  unit:
    args: {k: 3}
    layers:
      - {op: conv, out: 8, kernel: $k}
layers:
  - {id: s, block: unit, k: 0}
"""
    assert errors(spec) == [("type", 7, 36)]


def test_rendered_format():
    spec = HEAD + "layers:\n  - {op: convv}\n"
    assert message(spec).splitlines() == [
        "spec.yaml:4:10: error[unknown-op]: unknown op `convv`",
        "  hint: did you mean 'conv'?"]


def test_mistakes_in_a_block_definition_point_inside_it():
    spec = HEAD + """\
blocks:
  unit:
    argz: {}
    inputs: x
    layers: [{op: relu}]
layers:
  - {block: unit}
"""
    assert errors(spec) == [("unknown-attribute", 5, 5), ("type", 6, 13)]
    assert "`blocks.unit` has no attribute `argz`" in message(spec)


def test_an_argument_must_be_written_with_a_dollar():
    spec = BLOCKS.replace("kernel: 3", "kernel: '$out + out'") + "layers:\n  - {block: unit, out: 3}\n"
    assert [k for k, _, _ in errors(spec)] == ["expression"]


def test_the_input_cannot_be_an_output():
    spec = HEAD + "outputs: [relu_1, input]\nlayers:\n  - {op: relu}\n"
    assert errors(spec) == [("reference", 3, 19)]


def test_a_mul_that_cannot_broadcast_gets_the_hint_for_gates():
    spec = HEAD + """\
layers:
  - {id: maps, op: conv, out: 8, kernel: 1}
  - {id: pooled, op: global_avgpool}
  - {id: gate, op: flatten}
  - {op: mul, from: [maps, gate]}
"""
    assert errors(spec) == [("shape", 7, 21)]
    assert "reshape a vector gate to (C,1,1) first" in message(spec)
    wide = HEAD + "layers:\n  - {id: a, op: conv, out: 8, kernel: 1}\n  - {id: b, op: conv, " \
                  "out: 4, kernel: 1, from: input}\n  - {op: mul, from: [a, b]}\n"
    assert "a gate broadcasts over the axes where it has size 1" in message(wide)
    assert "add a 1x1 conv" in message(wide.replace("op: mul", "op: add"))


def test_a_channel_gate_broadcasts_over_the_map():
    from cnnc import compile_text
    spec = HEAD + """\
layers:
  - {id: maps, op: conv, out: 8, kernel: 3, padding: 1}
  - {op: global_avgpool}
  - {op: flatten}
  - {op: linear, out: 8}
  - {op: sigmoid}
  - {id: gate, op: reshape, shape: [8, 1, 1]}
  - {op: mul, from: [maps, gate]}
"""
    assert compile_text(spec).output_shape == (8, 32, 32)
