"""Fitting diagrams to a page, as DOT text: `size`, fonts, folding into columns or rows, the
notebook's own depth, and the options a Drawing checks. Nothing here needs Graphviz."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cnnc
from cnnc.report import drawing
from cnnc.report.diagram import plan_diagram
from cnnc.report.drawing import UNFOLDED, from_text, readable_depth
from cnnc.report.layout import Page, _cut, levels, parse_size
from cnnc.report.render import RenderError

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def resnet18():
    return cnnc.compile_file("resnet18")


@pytest.mark.parametrize("text, page", [
    ("16:9", Page(16 / 9)),
    ("4:3", Page(4 / 3)),
    ("10x7.5in", Page(10 / 7.5, (10, 7.5))),
    ("10X7.5", Page(10 / 7.5, (10, 7.5))),      # inches, as Graphviz's own size
    ("25.4x12.7cm", Page(2.0, (10, 5))),
    (" 13.33 x 7.5in ", Page(13.33 / 7.5, (13.33, 7.5))),
])
def test_sizes_are_an_aspect_or_a_page(text, page):
    got = parse_size(text)
    assert got.aspect == pytest.approx(page.aspect)
    assert got.inches == (pytest.approx(page.inches) if page.inches else None)


@pytest.mark.parametrize("text", ["16", "16:0", "0x5in", "16:9in", "ax9", "10x7.5mm", "-4:3", ""])
def test_a_bad_size_says_what_a_size_is(text):
    with pytest.raises(ValueError, match=r"is not a size: give an aspect like 16:9"):
        parse_size(text)


def test_a_page_scales_the_picture_to_fill_it_and_an_aspect_does_not(resnet18):
    assert 'size="10,7.5!"' in resnet18.to_dot(0, size="10x7.5in")
    assert 'size="9.84252,7.48031!"' in resnet18.to_dot(0, size="25x19cm")
    assert ', size="' not in resnet18.to_dot(0, size="16:9")


def test_font_and_fontsize_reach_every_text_in_proportion(resnet18):
    dot = resnet18.to_dot(0, font="DejaVu Sans", fontsize=20)
    graph, node, edge = re.findall(r"^  (?:graph|node|edge) \[(.*)\];$", dot, re.MULTILINE)[:3]
    assert 'fontname="DejaVu Sans", fontsize=22' in graph         # the title line, 11 at 10
    assert 'fontname="DejaVu Sans", fontsize=20' in node
    assert 'fontname="DejaVu Sans", fontsize=16' in edge          # edge labels, 8 at 10
    assert 'POINT-SIZE="32"' in graph and 'POINT-SIZE="8"' not in dot
    assert 'POINT-SIZE="16" COLOR' in dot                          # the figures line


def test_the_default_font_leaves_the_dot_text_as_it_was(resnet18):
    assert resnet18.to_dot(1, font="Helvetica", fontsize=10) == resnet18.to_dot(1)
    assert "#head" not in resnet18.to_dot(1) and 'fontname="Helvetica"' in resnet18.to_dot(1)


def test_levels_are_longest_paths_from_the_input(resnet18):
    d = plan_diagram(resnet18, 0)
    level = levels(d)
    assert [level[n] for n in ("input", "conv1", "maxpool", "layer1", "layer4", "fc")] == \
        [0, 1, 4, 5, 8, 11]


def test_cuts_make_even_runs_and_move_to_where_they_break_least():
    assert _cut([0] * 9, 3) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    costs = [5, 5, 5, 0, 5, 5, 5, 5, 5]      # a cut after level 3 breaks nothing
    assert _cut(costs, 2) == [0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert _cut([0] * 3, 3) == [0, 1, 2]   # never an empty run


def _folds(dot: str) -> int:
    return len(re.findall(r'^  "#foot\d+" \[', dot, re.MULTILINE))


def test_a_fold_count_snakes_the_chain_down_and_up(resnet18):
    dot = resnet18.to_dot(1, fold=3)
    assert _folds(dot) == 3
    # the legend heads the first fold, invisible nodes the others, all on one rank in order
    assert '{rank=same; "#legend" -> "#head1" -> "#head2" [style=invis];}' in dot
    assert '{rank=same; "#foot0" -> "#foot1" -> "#foot2" [style=invis];}' in dot
    # the middle fold runs up: its edges are reversed and drawn backwards
    assert '"layer2.1" -> "layer2.0" [label="128×28×28", dir=back];' in dot
    assert '"layer4.0" -> "layer4.1" [label="512×7×7"];' in dot  # the last runs down again
    edges = re.findall(r'^  "[^"]+" -> "[^"]+" \[label=', dot, re.MULTILINE)
    assert len(edges) == len(plan_diagram(resnet18, 1).edges)  # each edge drawn once


def test_an_aspect_folds_a_long_network_and_leaves_a_short_one(resnet18):
    assert _folds(resnet18.to_dot(None, size="16:9")) >= 5
    assert _folds(resnet18.to_dot(None, size="16:9", fold=1)) == 0
    tiny = cnnc.compile_file(HERE / "tiny.yaml")
    assert tiny.to_dot(size="1:4") == tiny.to_dot()  # already tall and narrow


def test_lr_folds_into_rows_with_the_same_rules(resnet18):
    dot = resnet18.to_dot(0, "LR", fold=2)
    assert "rankdir=LR" in dot and _folds(dot) == 2


def test_folding_a_block_in_two_draws_a_cluster_in_each_fold():
    dot = cnnc.compile_file("resnet18").to_dot(None, fold=7)
    assert re.search(r'subgraph "cluster_layer\d#\d"', dot)  # a stage split between folds


def test_the_notebook_picks_the_most_detail_that_fits(resnet18):
    assert readable_depth(resnet18) == 1                    # 16 nodes; every layer is 70
    assert readable_depth(resnet18, budget=12) == 0
    assert readable_depth(resnet18, budget=1000) is None
    assert readable_depth(cnnc.compile_file(HERE / "blocks.yaml")) is None
    assert readable_depth(cnnc.compile_file("googlenet")) == 0
    assert readable_depth(cnnc.compile_file("vgg11")) is None  # no blocks: every layer


def test_diagram_auto_depth_and_options(resnet18):
    picture = resnet18.diagram()
    assert picture.depth == 1 and picture.rankdir == "TB"
    assert resnet18.diagram(None).dot == resnet18.to_dot()
    assert resnet18.diagram(0, "LR", size="16:9").dot == resnet18.to_dot(0, "LR", size="16:9")


@pytest.mark.parametrize("options, phrase", [
    ({"size": "wide"}, "size: 'wide' is not a size"),
    ({"fold": 0}, "fold: 0 is not a whole number >= 1"),
    ({"fold": 2.5}, "fold: 2.5 is not"),
    ({"dpi": 0}, "dpi: 0 is not a number > 0"),
    ({"fontsize": -3}, "fontsize: -3 is not a number > 0"),
    ({"rankdir": "UP"}, "rankdir is one of TB, LR, BT, RL"),
])
def test_bad_options_are_refused_naming_the_option(resnet18, options, phrase):
    with pytest.raises(ValueError, match=re.escape(phrase)):
        resnet18.diagram(**options)


def test_options_from_the_command_line_are_converted_and_checked():
    assert from_text("16:9", "3", "150", "12") == {"size": "16:9", "fold": 3, "dpi": 150.0,
                                                    "fontsize": 12.0}
    assert from_text(None, None, None, None) == {}
    for args, phrase in [((None, "x", None, None), "fold: 'x' is not a whole number"),
                         ((None, None, "0", None), "dpi: '0' is not a number > 0"),
                         ((None, None, None, "nan"), "fontsize: 'nan' is not")]:
        with pytest.raises(ValueError, match=phrase):
            from_text(*args)


def test_a_fold_graphviz_cannot_lay_out_is_drawn_in_fewer(monkeypatch, resnet18):
    def render(dot, fmt, dpi=None):  # as Graphviz does on some folded GoogLeNets
        if '"#head2"' in dot:
            raise RenderError("Graphviz `dot -Tsvg` failed (exit 1): Error: trouble in init_rank")
        return b"<svg/>", []
    monkeypatch.setattr(drawing, "render", render)
    image, warnings = resnet18.diagram(1, fold=3).render("svg")
    assert image == b"<svg/>" and warnings[0].startswith(f"{UNFOLDED} in 3 (")
    assert warnings[0].endswith("drew it in 2")


def test_a_failure_in_every_fold_count_is_raised(monkeypatch, resnet18):
    def render(dot, fmt, dpi=None):
        raise RenderError("Graphviz `dot -Tsvg` failed (exit 1): Error: trouble in init_rank")
    monkeypatch.setattr(drawing, "render", render)
    with pytest.raises(RenderError, match="init_rank"):
        resnet18.diagram(1, fold=3).render("svg")


def test_save_refuses_an_extension_it_cannot_write(resnet18, tmp_path):
    with pytest.raises(ValueError, match=r"cannot tell a format from .*\*\.svg"):
        resnet18.diagram().save(tmp_path / "net.jpg")
    resnet18.diagram(0).save(tmp_path / "net.dot")
    assert (tmp_path / "net.dot").read_text() == resnet18.to_dot(0)
