"""A block that instantiates itself under an `if:` on its arguments (a stacked hourglass);
recursion that does not end, or has no `if:` to end it, is a `recursion` error."""

from __future__ import annotations

import textwrap

import pytest

import cnnc
from cnnc import CnncError
from cnnc.ir import keys
from cnnc.spec.limits import MAX_RECURSION

HOURGLASS = """\
name: hourglass
input: [8, 32, 32]
blocks:
  hourglass:
    args: {depth: null}
    layers:
      - {id: skip, op: conv, out: $in.channels, kernel: 3, padding: 1}
      - {id: down, op: maxpool, kernel: 2, stride: 2, from: in}
      - {id: low, op: conv, out: $in.channels, kernel: 3, padding: 1}
      - {id: inner, block: hourglass, depth: "$depth - 1", if: "$depth > 1"}
      - {id: up, op: upsample, scale: 2}
      - {id: sum, op: add, from: [up, skip]}
layers:
  - {id: hg, block: hourglass, depth: 4}
"""


def compile_yaml(text: str):
    return cnnc.compile_text(textwrap.dedent(text), "spec.yaml")


def test_an_hourglass_nests_itself_four_levels_deep():
    c = compile_yaml(HOURGLASS)
    deepest = "hg.inner.inner.inner"
    assert f"{deepest}.low" in c.layers and f"{deepest}.inner.skip" not in c.layers
    assert c.node(f"{deepest}.low")[keys.SHAPE] == (8, 2, 2)  # 32 halved four times
    # the innermost level's `inner` is skipped, so its `up` reads `low`
    assert c.node(f"{deepest}.up")[keys.LAYER].inputs == (f"{deepest}.low",)
    assert c.node("hg.up")[keys.LAYER].inputs == ("hg.inner.sum",)
    assert len(c.layers) == 4 * 5 and c.output_shape == (8, 32, 32)
    assert c.totals.params == 4 * 2 * (8 * 8 * 9 + 8)


def problem(text: str):
    with pytest.raises(CnncError) as info:
        compile_yaml(text)
    (d,) = info.value.diagnostics
    return d


def test_a_recursion_whose_if_never_turns_false_stops_at_the_limit_with_the_chain():
    d = problem(HOURGLASS.replace('"$depth - 1"', '"$depth + 1"'))
    assert (d.kind, d.span.line, d.span.col) == ("recursion", 10, 64)  # the `if`
    assert f"more than {MAX_RECURSION} levels deep" in d.message
    assert d.message.endswith(
        "hourglass(depth=4) -> hourglass(depth=5) -> hourglass(depth=6) -> ... "
        f"({MAX_RECURSION - 4} more) -> hourglass(depth={MAX_RECURSION + 3}) -> "
        f"hourglass(depth={MAX_RECURSION + 4})")
    assert d.notes[0][1] == "in 'hg', an instance of block `hourglass`"


def test_recursion_without_an_if_on_the_arguments_is_refused_at_once():
    for guard in ('', ', if: true'):
        d = problem(HOURGLASS.replace(', if: "$depth > 1"', guard))
        assert (d.kind, d.span.line) == ("recursion", 10)
        assert d.message == "block `hourglass` instantiates itself: hourglass -> hourglass"


def test_mutual_recursion_ends_under_an_if_on_either_call():
    c = compile_yaml("""\
        name: t
        input: [4]
        blocks:
          even:
            args: {n: null}
            layers:
              - {op: relu}
              - {block: odd, n: "$n - 1", if: "$n > 0"}
          odd:
            args: {n: null}
            layers:
              - {op: tanh}
              - {block: even, n: "$n - 1"}
        layers:
          - {id: e, block: even, n: 3}
        """)
    assert [c.node(n)[keys.LAYER].op for n in c.layers] == ["relu", "tanh", "relu", "tanh", "relu"]


def test_branching_recursion_without_layers_is_bounded_by_the_layer_limit():
    with pytest.raises(CnncError) as info:
        cnnc.compile_text(textwrap.dedent("""\
            name: t
            input: [4]
            blocks:
              tree:
                args: {d: null}
                layers:
                  - {block: tree, d: "$d - 1", if: "$d > 0"}
                  - {block: tree, d: "$d - 1", if: "$d > 0"}
            layers:
              - {block: tree, d: 30}
              - {op: relu}
            """), "spec.yaml", max_layers=1000)
    (d,) = info.value.diagnostics
    assert d.kind == "limit" and "1,001 block copies" in d.message
