"""Layers with several outputs (max pooling's `indices`) in the IR, the passes, the reports and
the lowering; the runtime side is tests/runtime/test_segnet.py."""

from __future__ import annotations

import cnnc
from cnnc.ir import keys
from cnnc.lower import lower

# `p1` is read twice by `up` (values and indices): one edge, two ports. `p2`'s indices are read
# only by a training-only head, and `p3` is an ordinary pooling nobody asks indices of.
SPEC = """
name: multi
input: [2, 8, 8]
outputs: [out, aux]
layers:
  - {id: c1, op: conv, out: 4, kernel: 3, padding: 1}
  - {id: p1, op: maxpool, kernel: 2}
  - {id: up, op: maxunpool, kernel: 2, from: [p1, p1.indices, c1]}
  - {id: p2, op: maxpool, kernel: 2}
  - {id: p3, op: maxpool, kernel: 2}
  - {id: out, op: conv, out: 2, kernel: 1}
  - {id: aux, op: maxunpool, kernel: 2, from: [p2, p2.indices], training_only: true}
"""


def compiled():
    return cnnc.compile_text(SPEC)


def test_one_edge_carries_both_outputs_and_the_indices_have_the_pooled_shape():
    c = compiled()
    edge = c.graph.edges["p1", "up"]
    assert (edge[keys.PORTS], edge[keys.READS]) == ((0, 1), (None, "indices"))
    assert c.graph.edges["c1", "up"][keys.READS] == (None,)
    assert c.node("p1")[keys.OUTPUT_SHAPES] == {"indices": (4, 4, 4)}
    assert c.node("up")[keys.SHAPE] == (4, 8, 8) and c.node("up")[keys.MACS] == 0
    # the unpooling follows its values: p1's field (4) through a window of 1, jump halved
    (rf, _) = c.node("up")[keys.RECEPTIVE_FIELD]
    assert (rf.size, rf.jump) == (4, 1)


def test_memory_counts_the_indices_in_int64_while_they_are_read():
    c = compiled()
    floats = 4 * (256 + 64 + 256 + 64 + 16 + 8)  # c1 p1 up p2 p3 out; aux left out
    assert c.totals.activation_bytes == floats + 8 * 64  # p1.indices; p2's feed aux only
    # at `p1`: c1, p1 and its indices; `up` reads c1 only for its size (`like`), so c1 is freed
    # after p1, and at `up` p1, its indices and up weigh as much again
    assert c.memory.peak_bytes == 4 * (256 + 64) + 8 * 64 == 4 * (64 + 256) + 8 * 64
    assert c.memory.peak_node == "p1"


def test_the_reports_name_the_output_read():
    c = compiled()
    rows = {line.split()[0]: line for line in c.table().splitlines()[4:11]}
    assert "maxunpool (p1.indices)" in rows["up"] and "(" not in rows["p3"]
    nodes = {n["id"]: n for n in c.to_json()["nodes"]}
    assert nodes["up"]["inputs"] == ["p1", "p1.indices", "c1"]
    assert nodes["p1"]["outputs"] == [{"name": "indices", "shape": [4, 4, 4], "dtype": "int64"}]
    assert "outputs" not in nodes["p3"]
    dot = c.to_dot()
    assert '"p1" -> "up" [label="indices 4×4×4"];' in dot
    assert '"p1" -> "up" [label="4×4×4"];' in dot


def test_steps_write_indices_only_where_a_step_of_their_mode_reads_them():
    plan = lower(compiled())
    train = {s.id: s.outputs for s in plan.training.steps}
    infer = {s.id: s.outputs for s in plan.inference.steps}
    assert (train["p1"], train["p2"], train["p3"]) == (("indices",), ("indices",), ())
    assert (infer["p1"], infer["p2"]) == (("indices",), ())  # aux does not run in inference
    # int64 indices: 8 bytes a cell, 4x4x4 of them, in the naive sum of training
    floats = 4 * (128 + 256 + 64 + 256 + 64 + 16 + 8 + 256)  # input, ..., out, aux
    assert plan.training.naive_bytes == floats + 2 * 8 * 64


def test_a_fused_chain_never_hides_an_extra_output():
    c = cnnc.compile_text("""
name: f
input: [2, 8, 8]
layers:
  - {op: conv, out: 4, kernel: 3, padding: 1}
  - {op: relu}
  - {id: p, op: maxpool, kernel: 2}
  - {op: maxunpool, kernel: 2, from: [p, p.indices]}
""")
    plan = lower(c)
    assert [s.op for s in plan.training.steps] == ["conv_relu", "maxpool", "maxunpool"]
    assert plan.training.steps[1].outputs == ("indices",)
