"""Diagrams as Graphviz draws them: the aspect a fold reaches, U-Net's U, PNG resolution,
saving, and the notebook's picture. Measured from what `dot` renders; skipped without it."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest

import cnnc
from cnnc.report.diagram import plan_diagram
from cnnc.report.render import render

pytestmark = pytest.mark.skipif(shutil.which("dot") is None,
                                reason="Graphviz `dot` not installed")


def _svg_size(svg: bytes | str) -> tuple[float, float]:
    text = svg.decode() if isinstance(svg, bytes) else svg
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', text)
    return float(m[1]), float(m[2])


def _png_size(png: bytes) -> tuple[int, int]:
    return struct.unpack(">II", png[16:24])


def _positions(dot: str) -> dict[str, tuple[float, float]]:
    """Each node's centre as Graphviz lays it out (inches; y grows upwards)."""
    plain = subprocess.run(["dot", "-Tplain"], input=dot.encode(), capture_output=True,
                           check=True).stdout.decode()
    return {m[1].strip('"'): (float(m[2]), float(m[3]))
            for m in re.finditer(r'^node ("[^"]*"|\S+) ([\d.]+) ([\d.]+)', plain, re.MULTILINE)}


@pytest.fixture(scope="module")
def resnet50():
    return cnnc.compile_file("resnet50")


@pytest.mark.parametrize("depth", [None, 0])
@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_resnet50_folds_to_about_16_9(resnet50, depth, rankdir):
    natural = _svg_size(render(resnet50.to_dot(depth, rankdir), "svg")[0])
    width, height = _svg_size(resnet50.diagram(depth, rankdir, size="16:9").render("svg")[0])
    assert 1 / 1.5 < width / height / (16 / 9) < 1.5, (width, height)
    assert not 1 / 3 < natural[0] / natural[1] < 3  # unfolded: a column or a strip


def test_a_page_size_is_the_size_of_the_picture():
    picture = cnnc.compile_file("resnet18").diagram(0, size="10x7.5in")
    width, height = _svg_size(picture.render("svg")[0])
    assert max(width / 720, height / 540) == pytest.approx(1, abs=0.01)  # 72 points an inch


def _unet_ends(c, depth):
    """The drawn node that ends each encoder and each decoder block of the original U-Net."""
    owner = plan_diagram(c, depth).owner

    def end(block: str) -> str:
        return owner[[n for n in c.layers if n.split(".")[0] == block][-1]]
    return ([end(b) for b in ("inc", "down1", "down2", "down3", "down4")],
            [end(b) for b in ("up1", "up2", "up3", "up4")])


@pytest.mark.parametrize("depth", [0, 1, None])
def test_unet_left_to_right_is_a_u(depth):
    c = cnnc.compile_file("unet_original")
    encoder, decoder = _unet_ends(c, depth)
    at = _positions(c.to_dot(depth, "LR"))
    assert max(at[n][0] for n in encoder) < min(at[n][0] for n in decoder)
    down = [at[n][1] for n in encoder]
    up = [at[n][1] for n in decoder]
    assert down == sorted(down, reverse=True), "the encoder goes down"
    assert up == sorted(up), "the decoder comes back up"
    assert down[0] > down[-1] + 2  # inches: a U, not a line


@pytest.mark.parametrize("depth", [0, None])
def test_unet_folded_in_two_columns_is_a_u(depth):
    c = cnnc.compile_file("unet_original")
    encoder, decoder = _unet_ends(c, depth)
    at = _positions(c.to_dot(depth, fold=2))
    left, right = encoder[:4], decoder[1:]  # the bottleneck sits where the columns meet
    assert max(at[n][0] for n in left) < min(at[n][0] for n in right)
    assert [at[n][1] for n in left] == sorted((at[n][1] for n in left), reverse=True)
    assert [at[n][1] for n in right] == sorted(at[n][1] for n in right)


def test_dpi_sets_the_png_resolution():
    picture = cnnc.compile_file("lenet5").diagram(0)
    at96 = _png_size(picture.render("png")[0])
    at192 = _png_size(cnnc.compile_file("lenet5").diagram(0, dpi=192).render("png")[0])
    assert at192[0] == pytest.approx(2 * at96[0], abs=2)
    assert at192[1] == pytest.approx(2 * at96[1], abs=2)


@pytest.mark.parametrize("name, magic", [("net.svg", b"<?xml"), ("net.png", b"\x89PNG"),
                                         ("net.pdf", b"%PDF"), ("net.gv", b"digraph")])
def test_diagram_saves_in_the_format_of_the_extension(tmp_path, name, magic):
    cnnc.compile_file("resnet18").diagram(size="16:9").save(tmp_path / name)
    assert (tmp_path / name).read_bytes().startswith(magic)


def test_the_notebook_shows_a_readable_wide_picture():
    c = cnnc.compile_file("resnet18")
    svg = c._repr_svg_()
    assert "<title>layer1.0</title>" in svg and "<title>layer1.0.conv1</title>" not in svg
    width, height = _svg_size(svg)
    full = _svg_size(render(c.to_dot(), "svg")[0])
    assert height < full[1] / 5 and 1 < width / height < 3  # every layer: 7,400 px tall
    assert svg in c._repr_html_()
