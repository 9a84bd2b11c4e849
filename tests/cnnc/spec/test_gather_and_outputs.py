"""References beyond one layer: every copy of a repeated instance (`stack.*.skip`), a block's
named outputs (`enc.skip`), a layer's extra outputs (`pool.indices`); one error per mistake."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

import cnnc
from cnnc import CnncError
from cnnc.compiler import parse_spec
from cnnc.ir import keys
from cnnc.ops import RULES

WAVENET = """\
name: wavenet
input: [16, 64]
blocks:
  layer:
    args: {dilation: 1}
    outputs: [skip]
    layers:
      - {id: filter, op: conv, out: 16, kernel: 2, dilation: $dilation, padding: same}
      - {id: gate, op: sigmoid}
      - {id: gated, op: mul, from: [filter, gate]}
      - {id: skip, op: conv, out: 32, kernel: 1}
      - {id: res, op: conv, out: 16, kernel: 1, from: gated}
      - {id: sum, op: add, from: [res, in]}
layers:
  - {id: stack, block: layer, repeat: 4, dilation: "2 ** $i"}
  - {id: skips, op: add, from: stack.*.skip}
  - {id: last, op: conv, out: 32, kernel: 1, from: stack}
  - {id: out, op: add, from: [skips, last]}
"""


def compile_yaml(text: str):
    return cnnc.compile_text(textwrap.dedent(text), "spec.yaml")


def test_a_layer_takes_every_copy_of_a_repeated_instance_in_order():
    c = compile_yaml(WAVENET)
    assert c.node("skips")[keys.LAYER].inputs == tuple(f"stack.{j}.skip" for j in range(4))
    assert c.node("skips")[keys.SHAPE] == (32, 64)
    assert c.node("last")[keys.LAYER].inputs == ("stack.3.sum",)


def test_gathers_mix_with_single_references_and_copies_by_index():
    c = compile_yaml(WAVENET.replace("from: stack.*.skip", "from: [stack.1.skip, stack.*.skip]")
                     .replace("from: stack}", "from: stack.3}"))
    assert c.node("skips")[keys.LAYER].inputs[:2] == ("stack.1.skip", "stack.0.skip")
    assert c.node("last")[keys.LAYER].inputs == ("stack.3.sum",)


def test_named_outputs_rename_and_reach_nested_values():
    c = compile_yaml("""\
        name: t
        input: [4, 16, 16]
        blocks:
          down:
            outputs: {features: conv}
            layers:
              - {id: conv, op: conv, out: 8, kernel: 3, padding: 1}
              - {id: pool, op: maxpool, kernel: 2}
          encoder:
            outputs: {high: first.features, low: second.features}
            layers:
              - {id: first, block: down}
              - {id: second, block: down}
        layers:
          - {id: enc, block: encoder}
          - {id: up, op: upsample, scale: 2, from: enc.low}
          - {id: join, op: concat, from: [up, enc.high]}
          - {id: fuse, op: conv, out: 4, kernel: 1, from: [join]}
          - {id: deep, op: global_avgpool, from: enc}
        outputs: [fuse, deep]
        """)
    assert c.node("up")[keys.LAYER].inputs == ("enc.second.conv",)
    assert c.node("join")[keys.LAYER].inputs == ("up", "enc.first.conv")


def test_an_extra_output_of_a_layer_is_named_after_it(monkeypatch):
    monkeypatch.setitem(RULES, "maxpool", dataclasses.replace(RULES["maxpool"],
                                                              outputs=("indices",)))
    net = parse_spec(textwrap.dedent("""\
        name: t
        input: [8, 32, 32]
        blocks:
          down:
            layers: [{id: pool, op: maxpool, kernel: 2}, {op: relu}]
        layers:
          - {id: d, block: down, repeat: 2}
          - {id: p, op: maxpool, kernel: 2}
          - {op: concat, from: [d.*.pool.indices, p.indices, d.1.pool]}
          - {op: relu, from: p.indice}
        """), "spec.yaml")
    assert net.layers[-2].inputs == ("d.0.pool.indices", "d.1.pool.indices", "p.indices",
                                     "d.1.pool")
    (d,) = net.reference_errors
    assert (d.span.line, d.message, d.hint) == (
        10, "'p' (maxpool) has no output `indice`",
        "did you mean 'indices'?")


def problems(text: str) -> list[tuple[str, int, int, str, str | None]]:
    with pytest.raises(CnncError) as info:
        compile_yaml(text)
    return [(d.kind, d.span.line, d.span.col, d.message, d.hint)
            for d in info.value.diagnostics]


@pytest.mark.parametrize("change, expected", [
    (("stack.*.skip", "stack.*.skp"),
     ("reference", 16, 32, ("block instance 'stack.0' has no output or layer 'skp' (in "
                           "'stack.*.skp')"), "did you mean 'skip'?")),
    (("repeat: 4", "repeat: 0"),
     ("reference", 16, 32, ("'stack.*.skip' gathers nothing: 'stack' has no copies "
                           "(`repeat: 0`)"), None)),
    (("stack.*.skip", "stack.7.skip"),
     ("reference", 16, 32, "'stack' has copies 0 to 3, not '7' (in 'stack.7.skip')",
      "name a copy by its index, or every copy with `*`")),
    (("stack.*.skip", "last.*.skip"),
     ("reference", 16, 32, ("'last' is not a block instance, so 'last.*.skip' names nothing "
                           "in it"), None)),
    (("outputs: [skip]", "outputs: [skipp]"),
     ("reference", 6, 15, ("output `skipp` of block `layer` names 'skipp', which is not in the "
                          "block"), "did you mean 'skip'?")),
])
def test_a_bad_gather_or_output_is_one_error_however_many_copies(change, expected):
    found = problems(WAVENET.replace(*change))
    assert len(found) == 1
    assert found[0][:4] == expected[:4] and (expected[4] is None or found[0][4] == expected[4])


def test_a_block_instance_cannot_take_a_gather():
    (found,) = problems(WAVENET.replace("{id: last, op: conv, out: 32, kernel: 1, from: stack}",
                                        "{id: last, block: layer, from: stack.*}"))
    assert found[:2] == ("reference", 17)
    assert "a block instance cannot take 'stack.*'" in found[3]


def test_an_output_name_with_a_dot_is_refused_once():
    (found,) = problems(WAVENET.replace("outputs: [skip]", "outputs: {a.b: skip}"))
    assert found[:3] == ("type", 6, 15) and "`a.b` cannot name an output" in found[3]


def test_every_copy_output_and_a_gather_in_the_file_outputs():
    c = compile_yaml("""\
        name: t
        input: [4, 8]
        blocks:
          unit: {layers: [{id: a, op: conv, out: 4, kernel: 1}]}
        layers:
          - {id: s, block: unit, repeat: 3}
          - {id: cat, op: concat, from: s.*}
        outputs: [cat, s.*.a]
        """)
    assert c.node("cat")[keys.LAYER].inputs == ("s.0.a", "s.1.a", "s.2.a")
    assert c.outputs == ("cat", "s.0.a", "s.1.a", "s.2.a")
