"""Block expansion: qualified ids, repeat and `$i`, skipped layers, several inputs, defaults."""

from __future__ import annotations

import textwrap

import cnnc
from cnnc.ir import keys


def compile_yaml(text: str):
    return cnnc.compile_text(textwrap.dedent(text), "spec.yaml")


STAGES = """\
name: t
input: [3, 32, 32]
blocks:
  unit:
    args: {out: null, stride: 1, project: false}
    layers:
      - {id: conv, op: conv, out: $out, kernel: 3, stride: $stride, padding: 1}
      - {id: short, op: conv, out: $out, kernel: 1, stride: $stride, from: in, if: $project}
      - {id: add, op: add, from: [conv, short]}
  stage:
    args: {out: null, stride: 1, n: 2}
    layers:
      - {block: unit, repeat: $n, out: $out, stride: "$stride if $i == 0 else 1",
         project: "$i == 0 and $stride > 1"}
layers:
  - {id: layer1, block: stage, out: 3}
  - {id: layer2, block: stage, out: 8, stride: 2, n: 3}
"""


def test_ids_are_qualified_by_instance_path_and_copy_index():
    c = compile_yaml(STAGES)
    assert c.layers == [
        "layer1.0.conv", "layer1.0.add", "layer1.1.conv", "layer1.1.add",
        "layer2.0.conv", "layer2.0.short", "layer2.0.add", "layer2.1.conv", "layer2.1.add",
        "layer2.2.conv", "layer2.2.add"]


def test_skipped_layer_passes_its_input_on():
    c = compile_yaml(STAGES)
    assert c.node("layer1.0.add")[keys.LAYER].inputs == ("layer1.0.conv", "input")
    assert c.node("layer2.0.add")[keys.LAYER].inputs == ("layer2.0.conv", "layer2.0.short")
    assert c.node("layer2.1.add")[keys.LAYER].inputs == ("layer2.1.conv", "layer2.0.add")


def test_copy_index_drives_arguments():
    c = compile_yaml(STAGES)
    assert c.node("layer2.0.conv")[keys.SHAPE] == (8, 16, 16)
    assert c.node("layer2.2.conv")[keys.SHAPE] == (8, 16, 16)
    assert c.node("layer2.0.conv")[keys.LAYER].attrs.stride == 2
    assert c.node("layer2.1.conv")[keys.LAYER].attrs.stride == 1


def test_named_repeat_numbers_copies_under_its_id():
    c = compile_yaml("""\
        name: t
        input: [4]
        blocks:
          dense: {args: {n: 4}, layers: [{op: linear, out: $n}, {op: relu}]}
        layers:
          - {id: mlp, block: dense, repeat: 2}
          - {id: head, block: dense, n: 2}
        """)
    assert c.layers == ["mlp.0.linear_1", "mlp.0.relu_1", "mlp.1.linear_1", "mlp.1.relu_1",
                        "head.linear_1", "head.relu_1"]


def test_repeat_zero_passes_through():
    c = compile_yaml("""\
        name: t
        input: [4]
        blocks:
          dense: {layers: [{op: linear, out: 4}]}
        layers:
          - {id: none, block: dense, repeat: 0}
          - {id: out, op: relu, from: none}
        """)
    assert c.layers == ["out"] and c.node("out")[keys.LAYER].inputs == ("input",)


def test_blocks_with_several_inputs_and_derived_defaults():
    c = compile_yaml("""\
        name: t
        input: [4, 16, 16]
        blocks:
          up:
            inputs: [x, skip]
            args: {out: null, joined: "$out * 2"}
            layers:
              - {id: up, op: upsample, scale: 2}
              - {id: cat, op: concat, from: [skip, up]}
              - {id: fuse, op: conv, out: $joined, kernel: 1}
        layers:
          - {id: down, op: maxpool, kernel: 2}
          - {id: up1, block: up, from: [down, input], out: 4}
        """)
    assert c.node("up1.cat")[keys.LAYER].inputs == ("input", "up1.up")
    assert c.output_shape == (8, 16, 16)


def test_dotted_references_reach_into_instances_and_forward():
    c = compile_yaml("""\
        name: t
        input: [4]
        blocks:
          two: {layers: [{id: a, op: relu}, {id: b, op: tanh}]}
        outputs: [last, blk.a]
        layers:
          - {id: blk, block: two}
          - {id: last, op: add, from: [blk.a, later]}
          - {id: later, op: sigmoid, from: blk}
        """)
    assert c.node("last")[keys.LAYER].inputs == ("blk.a", "later")
    assert c.order.index("later") < c.order.index("last")
    assert c.outputs == ("last", "blk.a")


def test_training_only_spreads_downstream_and_to_a_whole_instance():
    c = compile_yaml("""\
        name: t
        input: [4]
        blocks:
          head: {layers: [{op: linear, out: 2}, {op: relu}]}
        outputs: [main, aux.relu_1, side]
        layers:
          - {id: trunk, op: linear, out: 4}
          - {id: main, op: linear, out: 2}
          - {id: aux, block: head, from: trunk, training_only: true}
          - {id: side, op: tanh, from: aux}
        """)
    only = {n for n in c.layers if c.node(n)[keys.TRAINING_ONLY]}
    assert only == {"aux.linear_1", "aux.relu_1", "side"}
    assert c.totals.macs == 16 + 8 and c.totals.training_macs == 16 + 8 + 8


def test_frozen_parameters_are_not_trainable():
    c = compile_yaml("name: t\ninput: [4]\nlayers:\n"
                     "  - {op: linear, out: 4, frozen: true}\n  - {op: linear, out: 2}\n")
    assert (c.totals.params, c.totals.trainable_params) == (20 + 10, 10)


def test_yaml_anchors_and_merge_keys_work():
    c = compile_yaml("""\
        name: t
        input: [3, 8, 8]
        layers:
          - &conv3 {op: conv, out: 4, kernel: 3, padding: 1}
          - {<<: *conv3, out: 8}
        """)
    assert c.output_shape == (8, 8, 8)


def test_exponent_floats_without_a_dot_are_numbers():
    c = compile_yaml("name: t\ninput: [3, 8, 8]\nlayers:\n  - {op: batchnorm, eps: 1e-3}\n")
    assert c.node("batchnorm_1")[keys.LAYER].attrs.eps == 0.001
