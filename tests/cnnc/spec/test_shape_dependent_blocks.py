"""Blocks that read their input's shape (`$in.channels`, ...): the same network as the version
that threads the sizes through arguments, following `--input`; errors at the right place."""

from __future__ import annotations

import textwrap

import pytest

import cnnc
from cnnc import CnncError
from cnnc.compiler import parse_spec
from cnnc.ir import keys


def compile_yaml(text: str, **options):
    return cnnc.compile_text(textwrap.dedent(text), "spec.yaml", **options)


def figures(c) -> tuple:
    shapes = [c.node(n)[keys.SHAPE] for n in c.layers]
    return (len(c.layers), shapes, c.totals.params, c.totals.macs, c.totals.buffers)


BODY = """\
name: mobile
input: [8, 32, 32]
blocks:
  separable:
    args: {ARGS_SEP}
    layers:
      - {op: conv, out: CIN, kernel: 3, stride: $stride, padding: 1, groups: CIN, bias: false}
      - {op: batchnorm}
      - {op: relu}
      - {op: conv, out: $out, kernel: 1, bias: false}
  inverted:
    doc: MobileNet v2's block; residual only when stride 1 and channels unchanged
    args: {ARGS_INV}
    layers:
      - {op: conv, out: "CIN * $expand", kernel: 1, bias: false}
      - {op: relu6}
      - {op: conv, out: "CIN * $expand", kernel: 3, stride: $stride, padding: 1,
         groups: "CIN * $expand", bias: false}
      - {id: project, op: conv, out: $out, kernel: 1, bias: false}
      - {op: add, from: [project, in], if: "$stride == 1 and CIN == $out"}
layers:
  - {block: separable, out: 16, CALL1}
  - {block: separable, out: 24, stride: 2, CALL2}
  - {id: stage, block: inverted, repeat: 3, out: 24, stride: "2 if $i == 0 else 1", CALL3}
  - {block: inverted, out: 32, CALL4}
"""


def spec(by_shape: bool) -> str:
    if by_shape:
        text = BODY.replace("CIN", "$in.channels")
        for call in ("CALL1", "CALL2", "CALL3", "CALL4"):
            text = text.replace(f", {call}", "")
        return (text.replace("ARGS_SEP", "out: null, stride: 1")
                .replace("ARGS_INV", "out: null, stride: 1, expand: 6"))
    return (BODY.replace("CIN", "$cin")
            .replace("ARGS_SEP", "cin: null, out: null, stride: 1")
            .replace("ARGS_INV", "cin: null, out: null, stride: 1, expand: 6")
            .replace("CALL1", "cin: 8").replace("CALL2", "cin: 16")
            .replace("CALL3", "cin: 24").replace("CALL4", "cin: 24"))


def test_blocks_reading_their_input_match_the_argument_threaded_versions():
    by_shape, threaded = compile_yaml(spec(True)), compile_yaml(spec(False))
    assert figures(by_shape) == figures(threaded)
    # the residual is made only where stride is 1 and the channels stay: copies 1 and 2
    adds = [n for n in by_shape.layers if n.endswith("add_1")]
    assert adds == ["stage.1.add_1", "stage.2.add_1"]


def test_shapes_read_in_blocks_follow_the_input_override():
    c = compile_yaml(spec(True), input_shape=(3, 64, 64))
    assert c.node("separable_1.conv_1")[keys.LAYER].attrs.groups == 3
    assert c.output_shape == (32, 16, 16)


def test_spatial_sizes_and_the_network_input_at_the_top_level():
    c = compile_yaml("""\
        name: t
        input: [4, 20, 12]
        blocks:
          to_vector:
            layers:
              - {op: avgpool, kernel: [$in.height, $in.width]}
              - {op: flatten}
              - {op: linear, out: "$in.shape[0]" }
        layers:
          - {op: conv, out: "$input.channels * 2", kernel: 1}
          - {block: to_vector}
        """.replace('"$in.shape[0]" ', "$in.channels"))
    assert c.node("to_vector_1.avgpool_1")[keys.LAYER].attrs.kernel == [20, 12]
    assert c.output_shape == (8,)


def test_the_projection_left_out_passes_the_raw_input_to_the_skip():
    c = compile_yaml("""\
        name: t
        input: [16, 8, 8]
        blocks:
          preact:
            args: {out: null, stride: 1}
            layers:
              - {id: bn1, op: batchnorm}
              - {id: relu1, op: relu}
              - {id: conv1, op: conv, out: $out, kernel: 3, stride: $stride, padding: 1}
              - {id: bn2, op: batchnorm}
              - {id: proj, op: conv, out: $out, kernel: 1, stride: $stride, from: in,
                 if: "$stride != 1 or $in.channels != $out"}
              - {op: add, from: [bn2, proj]}
        layers:
          - {id: same, block: preact, out: 16}
          - {id: wider, block: preact, out: 32, stride: 2}
        """)
    assert c.node("same.add_1")[keys.LAYER].inputs == ("same.bn2", "input")
    assert c.node("wider.add_1")[keys.LAYER].inputs == ("wider.bn2", "wider.proj")
    assert "same.proj" not in c.layers


def test_shapes_are_computed_only_when_an_expression_reads_one(monkeypatch):
    from cnnc.spec import early_shapes

    def refuse(*_):
        raise AssertionError("shapes computed during expansion")
    monkeypatch.setattr(early_shapes.EarlyShapes, "__init__", refuse)
    assert len(parse_spec(spec(False), "spec.yaml").layers) == 2 * 4 + 4 + 5 + 5 + 4


def problems(text: str) -> list[tuple[str, int, int, str]]:
    with pytest.raises(CnncError) as info:
        compile_yaml(text)
    return [(d.kind, d.span.line, d.span.col, d.message) for d in info.value.diagnostics]


def test_a_broken_layer_before_a_shape_read_is_one_shape_error_at_that_layer():
    found = problems("""\
        name: t
        input: [8, 16, 16]
        blocks:
          grow:
            layers: [{op: conv, out: "$in.channels * 2", kernel: 1}]
        layers:
          - {id: c0, op: conv, out: 8, kernel: 40}
          - {block: grow, repeat: 5}
        """)
    assert [(k, line, col) for k, line, col, _ in found] == [("size", 7, 40)]
    assert found[0][3].startswith("layer 'c0' (conv): conv output would be 0x0")


def test_reading_a_shape_of_something_defined_further_down_is_refused():
    found = problems("""\
        name: t
        input: [8, 16, 16]
        blocks:
          grow:
            layers: [{op: conv, out: "$in.channels * 2", kernel: 1}]
        layers:
          - {id: g, block: grow, from: later}
          - {id: later, op: relu, from: input}
        """)
    assert found == [("reference", 5, 30, ("`$in.channels * 2` needs the shape of 'later', which "
                                           "is not defined above this point"))]


@pytest.mark.parametrize("expression, message", [
    ("$in.chanels", "a tensor has no property `chanels`"),
    ("$in.length", ("`$in` is 8x16x16: it has `channels`, `height`, `width`, `shape`, not "
                   "`length`")),
    ("$x.channels", "there is no input `$x` here"),
    ("$in.shape.size", "a property is read from a tensor"),
])
def test_bad_shape_reads_are_expression_errors(expression, message):
    found = problems(f"""\
        name: t
        input: [8, 16, 16]
        blocks:
          grow:
            layers: [{{op: conv, out: "{expression}", kernel: 1}}]
        layers:
          - {{block: grow, repeat: 3}}
        """)
    assert len(found) == 1 and found[0][0] == "expression" and message in found[0][3]


def test_named_inputs_and_argument_defaults_read_shapes():
    c = compile_yaml("""\
        name: t
        input: [4, 16, 16]
        blocks:
          fuse:
            inputs: [x, skip]
            args: {out: "$skip.channels"}
            layers:
              - {id: up, op: upsample, scale: "$skip.width // $x.width", from: x}
              - {id: conv, op: conv, out: $out, kernel: 1}
              - {id: sum, op: add, from: [conv, skip]}
        layers:
          - {id: down, op: conv, out: 12, kernel: 3, stride: 4, padding: 1}
          - {id: f, block: fuse, from: [down, input]}
        """)
    assert c.node("f.up")[keys.LAYER].attrs.scale == 4
    assert c.node("f.conv")[keys.SHAPE] == (4, 16, 16)


def test_a_value_read_by_two_layers_is_no_loop():
    """A dense layer's concat reads its input both directly and through its conv: the shape of
    that input is wanted twice on the way down, which is not a loop (DenseNet's transitions)."""
    c = compile_yaml("""\
        name: dense
        input: [8, 16, 16]
        blocks:
          dense_layer:
            layers:
              - {id: conv, op: conv, out: 4, kernel: 3, padding: 1}
              - {id: concat, op: concat, from: [in, conv]}
          transition:
            args: {out: "$in.channels // 2"}
            layers:
              - {id: conv, op: conv, out: $out, kernel: 1}
        layers:
          - {id: block, block: dense_layer, repeat: 3}
          - {id: transition, block: transition}
        """)
    assert c.node("transition.conv")[keys.SHAPE] == (10, 16, 16)
