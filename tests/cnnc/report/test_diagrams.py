"""Diagrams as DOT text: what each node, cluster and edge says, `depth` collapsing, pinned output.

The pinned files are regenerated on purpose, never to make a test pass:
`cnnc compile tests/cnnc/report/blocks.yaml --format dot --depth 0 > blocks_depth0.dot`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cnnc
from cnnc.ops import RULES
from cnnc.passes.params import numel
from cnnc.report.diagram import plan_diagram
from cnnc.report.labels import BLOCK_FILL, FILLS
from cnnc.report.summary import summarize
from cnnc.report.units import si

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def blocks():
    return cnnc.compile_file(HERE / "blocks.yaml")


def _node_lines(dot: str) -> dict[str, str]:
    """DOT node name -> its statement, for every node statement (edges left out)."""
    return {m.group(1): m.group(0) for m in re.finditer(r'^\s*"([^"]+)" \[(?!style=invis).*$',
                                                        dot, re.MULTILINE)}


def _edges(dot: str) -> list[tuple[str, str, str]]:
    return re.findall(r'^\s*"([^"]+)" -> "([^"]+)" \[label="([^"]+)"\];$', dot, re.MULTILINE)


@pytest.mark.parametrize("name, depth, rankdir", [
    ("blocks.dot", None, "TB"), ("blocks_depth0.dot", 0, "TB"),
    ("blocks_depth1_lr.dot", 1, "LR")])
def test_block_diagrams_are_pinned(blocks, name, depth, rankdir):
    assert blocks.to_dot(depth, rankdir) == (HERE / name).read_text()


def test_same_spec_same_dot_byte_for_byte():
    first = cnnc.compile_file("googlenet").to_dot(1)
    assert cnnc.compile_file("googlenet").to_dot(1) == first


def test_every_layer_is_a_node_with_id_op_shape_and_params(blocks):
    nodes = _node_lines(blocks.to_dot())
    assert set(nodes) == {"input", "#legend", *blocks.layers}
    conv = nodes["s1.unit.0.conv"]  # inside cluster s1.unit.0 it shows its local id
    assert "<B>conv</B>" in conv and "conv 3×3 p1, 4→4" in conv
    assert "4×8×8 · 144 params" in conv
    assert f'fillcolor="{FILLS["conv"]}"' in conv
    assert "upsample ×2 nearest" in nodes["up"] and "maxpool 2×2 s2" in nodes["pool"]


def test_merges_are_ellipses_and_layers_boxes(blocks):
    nodes = _node_lines(blocks.to_dot())
    for node in blocks.layers:
        merge = RULES[blocks.node(node)["layer"].op].family == "merge"
        assert ("shape=ellipse" in nodes[node]) == merge, node


def test_edges_carry_the_shape_of_their_tensor(blocks):
    edges = _edges(blocks.to_dot())
    assert ("stem", "s1.add", "4×8×8") in edges           # the skip
    assert ("pool", "up", "4×4×4") in edges
    assert ("join.cat", "join.proj", "8×8×8") in edges
    assert len(edges) == sum(len(set(blocks.node(n)["layer"].inputs)) for n in blocks.layers)


def test_block_instances_are_clusters_labelled_with_path_and_block(blocks):
    dot = blocks.to_dot()
    for path, block in [("s1", "stage"), ("s1.unit.0", "unit"), ("s1.unit.1", "unit"),
                        ("join", "merge")]:
        assert f'subgraph "cluster_{path}" {{' in dot
        assert f"<B>{path}</B>  <I>{block}</I>" in dot
    # nesting: unit.0 is opened inside s1, before s1 closes
    s1 = dot.index('subgraph "cluster_s1" {')
    assert s1 < dot.index('subgraph "cluster_s1.unit.0"') < dot.index('subgraph "cluster_join"')


def test_title_has_name_totals_and_a_legend_of_the_families_drawn(blocks):
    dot = blocks.to_dot()
    assert "<B>blocks</B>" in dot and "4×8×8 → 4×1×1 · 344 params · 21.5 K MACs" in dot
    legend = _node_lines(dot)["#legend"]
    assert re.findall(r">(\w+)</FONT>", legend) == ["conv", "pool", "activation", "merge",
                                                     "resample"]
    collapsed = _node_lines(blocks.to_dot(0))["#legend"]
    assert f'BGCOLOR="{BLOCK_FILL}"' in collapsed and ">activation<" not in collapsed


def test_depth_0_collapses_each_top_level_instance_into_one_node_with_totals(blocks):
    dot = blocks.to_dot(0)
    assert "subgraph" not in dot
    nodes = _node_lines(dot)
    assert set(nodes) == {"input", "#legend", "stem", "s1", "pool", "up", "join", "head"}
    assert "<I>stage</I> · 5 layers" in nodes["s1"] and "shape=box3d" in nodes["s1"]
    assert "4×8×8 · 288 params · 18.4 K MACs" in nodes["s1"]
    # the two-input block keeps both its inputs; the skip into s1 is drawn once
    assert set(_edges(dot)) == {("input", "stem", "4×8×8"), ("stem", "s1", "4×8×8"),
                                ("s1", "pool", "4×8×8"), ("pool", "up", "4×4×4"),
                                ("up", "join", "4×8×8"), ("stem", "join", "4×8×8"),
                                ("join", "head", "4×8×8")}


def test_depth_1_keeps_top_level_clusters_and_collapses_what_is_inside(blocks):
    dot = blocks.to_dot(1, "LR")
    assert "rankdir=LR" in dot
    assert 'subgraph "cluster_s1" {' in dot and "cluster_s1.unit" not in dot
    assert {"s1.unit.0", "s1.unit.1", "s1.add", "join.cat"} <= set(_node_lines(dot))


def test_a_depth_beyond_the_nesting_draws_every_layer(blocks):
    assert blocks.to_dot(5) == blocks.to_dot()


def test_collapsed_nodes_carry_the_totals_of_the_layers_inside():
    c = cnnc.compile_file("resnet18")
    nodes = _node_lines(c.to_dot(0))
    for stage, shape in [("layer1", "64×56×56"), ("layer3", "256×14×14")]:
        inside = [n for n in c.layers if n.startswith(stage + ".")]
        params = sum(numel(c.node(n)["params"]) for n in inside)
        macs = sum(c.node(n)["macs"] for n in inside)
        assert f"{shape} · {si(params)} params · {si(macs)} MACs" in nodes[stage]
    d = plan_diagram(c, 0)
    drawn = [m for m in d.root.members if not isinstance(m, str)]
    assert [m.path for m in drawn] == ["layer1", "layer2", "layer3", "layer4"]
    assert sum(len(m.layers) for m in drawn) + 7 == len(c.layers)  # 7 layers outside


def test_unet_up_blocks_keep_both_inputs_when_collapsed():
    edges = _edges(cnnc.compile_file("unet_original").to_dot(0))
    assert ("down4", "up1", "1024×28×28") in edges and ("down3", "up1", "512×64×64") in edges
    assert ("inc", "up4", "64×568×568") in edges


def test_the_longest_path_is_kept_straight():
    d = plan_diagram(cnnc.compile_file("resnet18"), 1)
    assert {"input", "conv1", "layer1.0", "layer4.1", "fc"} <= d.spine
    assert "layer2.0.downsample" not in d.spine


def test_training_only_layers_are_dashed():
    dot = cnnc.compile_file("googlenet_aux").to_dot()
    assert 'style="rounded,filled,dashed"' in _node_lines(dot)["aux1.fc2"]
    assert ">training only<" in _node_lines(dot)["#legend"]


@pytest.mark.parametrize("spec, expected", [
    ("{op: conv, out: 8, kernel: 3}", "3×3, 2→8"),
    ("{op: conv, out: 8, kernel: [3, 1], stride: 2, padding: same, dilation: 2, groups: 2}",
     "3×1 s2 same d2 g2, 2→8"),
    ("{op: conv, out: 2, kernel: 3, groups: depthwise}", "3×3 depthwise, 2→2"),
    ("{op: conv_transpose, out: 4, kernel: 2, stride: 2}", "2×2 s2, 2→4"),
    ("{op: avgpool, kernel: 3, stride: 1, padding: 1, ceil_mode: true}", "3×3 p1 ceil"),
    ("{op: adaptive_avgpool, size: 1}", "to 1×1"),
    ("{op: upsample, size: [16, 12], mode: bilinear, align_corners: true}",
     "to 16×12 bilinear align"),
    ("{op: pad, padding: [[1, 2], 0], mode: reflect}", "p1+2×0 reflect"),
    ("{op: dropout, p: 0.2}", "p=0.2"),
    ("{op: leaky_relu, negative_slope: 0.2}", "slope 0.2"),
    ("{op: batchnorm}", ""),
    ("{op: slice, start: 1, stop: -1, step: 2, axis: 1}", "[1:-1:2] axis 1"),
    ("{op: slice, stop: 1}", "[0:1]"),
    ("{op: permute, dims: [0, 2, 1]}", "(0, 2, 1)"),
    ("{op: scale, init: 1e-6}", "init 1e-06"),
])
def test_key_attributes_in_one_line(spec, expected):
    c = cnnc.compile_text(f"name: one\ninput: [2, 8, 8]\nlayers:\n  - {spec}\n")
    layer = c.node(c.layers[0])["layer"]
    assert summarize(layer.attrs, ((2, 8, 8),), c.node(c.layers[0])["shape"]) == expected


def test_stack_and_upsample_to_a_reference_in_one_line():
    c = cnnc.compile_text("""
name: two
input: [2, 8, 8]
layers:
  - {id: down, op: maxpool, kernel: 2}
  - {id: up, op: upsample, from: [down, input], mode: bilinear}
  - {id: pair, op: stack, from: [up, input], axis: -1}
""")
    lines = {n: summarize(c.node(n)["layer"].attrs, tuple(
        c.node(i)["shape"] for i in c.node(n)["layer"].inputs), c.node(n)["shape"])
        for n in ("up", "pair")}
    assert lines == {"up": "to 8×8 bilinear", "pair": "×2 axis -1"}


def test_unknown_rankdir_is_refused(blocks):
    with pytest.raises(ValueError, match="rankdir"):
        blocks.to_dot(rankdir="UP")
