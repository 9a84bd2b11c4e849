"""Drawing through Graphviz, and the notebook views; drawing tests skip where `dot` is absent."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import cnnc
from cnnc.report.render import RenderError, render, svg_or_none

HERE = Path(__file__).parent
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")


@pytest.fixture(scope="module")
def blocks():
    return cnnc.compile_file(HERE / "blocks.yaml")


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """A PATH on which no `dot` can be found."""
    monkeypatch.setenv("PATH", str(tmp_path))


@needs_dot
@pytest.mark.parametrize("depth", [None, 0, 1])
def test_svg_names_every_drawn_node(blocks, depth):
    svg, _ = render(blocks.to_dot(depth), "svg")
    titles = set(re.findall(r'class="node">\s*<title>([^<]+)</title>', svg.decode()))
    expected = {"stem", "pool", "up", "head"} | (
        set(blocks.layers) if depth is None else {"s1", "join"} if depth == 0 else
        {"s1.unit.0", "s1.unit.1", "s1.add", "join.cat", "join.proj"})
    assert expected <= titles
    assert {"input", "#legend"} <= titles


@needs_dot
def test_zoo_model_renders_to_svg_with_every_layer():
    c = cnnc.compile_file("googlenet")
    svg = render(c.to_dot(), "svg")[0].decode()
    for node in c.layers:
        assert f"<title>{node}</title>" in svg, node


@needs_dot
@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF")])
def test_bitmap_and_pdf(blocks, fmt, magic):
    data, warnings = render(blocks.to_dot(), fmt)
    assert data.startswith(magic) and warnings == []


@needs_dot
def test_a_broken_dot_text_is_a_one_line_render_error():
    with pytest.raises(RenderError) as e:
        render("digraph { a -> }", "svg")
    assert not e.value.missing and "\n" not in str(e.value) and "failed" in str(e.value)


def test_without_dot_rendering_says_so(no_dot, blocks):
    with pytest.raises(RenderError) as e:
        render(blocks.to_dot(), "svg")
    assert e.value.missing


@needs_dot
def test_notebook_shows_the_svg_and_a_real_table(blocks):
    svg = blocks._repr_svg_()
    assert svg.startswith("<svg") and "<title>s1.unit.0.conv</title>" in svg
    html = blocks._repr_html_()
    assert html.startswith('<div class="cnnc">') and svg in html
    assert "<th>id</th>" in html and "<td>s1.unit.0.conv</td><td>conv</td><td>4x8x8</td>" in html
    assert '<td>parameters</td><td style="text-align:right">344</td>' in html


def test_notebook_without_dot_shows_the_table_alone(no_dot):
    c = cnnc.compile_file(HERE / "tiny.yaml")
    assert c._repr_svg_() is None and svg_or_none(c.to_dot()) is None
    html = c._repr_html_()
    assert "<svg" not in html and "<table>" in html and "<td>skip</td><td>add</td>" in html


def test_notebook_table_marks_training_only_layers(no_dot):
    html = cnnc.compile_file("googlenet_aux")._repr_html_()
    assert "<td>aux1.fc2*</td>" in html and "* training only" in html
