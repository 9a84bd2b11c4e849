"""`cnnc compile` options for slides: --size, --fold, --dpi, --font, --fontsize, and how a bad
one is refused (one line, exit 2, the option named)."""

from __future__ import annotations

import re
import shutil
import struct

import pytest

from cnnc.cli import main

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")


def _dot(capsys, *args: str) -> str:
    assert main(["compile", *args, "--format", "dot"]) == 0
    return capsys.readouterr().out


def test_size_folds_and_fits_the_page(capsys):
    dot = _dot(capsys, "resnet50", "--size", "16:9")
    assert '"#head1"' in dot and ', size="' not in dot
    page = _dot(capsys, "resnet50", "--depth", "0", "--size", "10x7.5in")
    assert 'size="10,7.5!"' in page


def test_fold_sets_the_number_of_columns(capsys):
    dot = _dot(capsys, "unet_original", "--depth", "0", "--fold", "2")
    assert len(re.findall(r'^  "#foot\d" \[', dot, re.MULTILINE)) == 2
    assert '"#head1"' not in _dot(capsys, "unet_original", "--size", "4:3", "--fold", "1")


def test_font_and_fontsize(capsys):
    dot = _dot(capsys, "lenet5", "--font", "DejaVu Sans", "--fontsize", "12")
    assert 'node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=12,' in dot


@pytest.mark.parametrize("args, phrase", [
    (["--size", "16x", "--format", "dot"], "--size: '16x' is not a size: give an aspect like"),
    (["--size", "16:9:1", "-o", "net.svg"], "--size: '16:9:1' is not a size"),
    (["--dpi", "0", "--format", "png"], "--dpi: '0' is not a number > 0"),
    (["--dpi", "many", "--format", "png"], "--dpi: 'many' is not a number > 0"),
    (["--dpi", "150", "--format", "svg"], "--dpi sets the resolution of a png; svg has none"),
    (["--fold", "0", "--format", "dot"], "--fold: '0' is not a whole number >= 1"),
    (["--fontsize", "-2", "--format", "dot"], "--fontsize: '-2' is not a number > 0"),
    (["--size", "16:9"], "--size: only for diagrams (dot, svg, png, pdf), not table"),
    (["--font", "Arial", "--fold", "2", "--format", "json"], "--fold, --font: only for diagrams"),
])
def test_a_bad_diagram_option_is_a_one_line_usage_error(capsys, tmp_path, monkeypatch, args,
                                                        phrase):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "resnet18", *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("cnnc compile: error: ") and phrase in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert not list(tmp_path.iterdir())  # refused before anything is written


@needs_dot
def test_dpi_reaches_the_png(tmp_path, capsys):
    sizes = []
    for dpi in ("96", "192"):
        out = tmp_path / f"net{dpi}.png"
        assert main(["compile", "lenet5", "--depth", "0", "--dpi", dpi, "-o", str(out)]) == 0
        sizes.append(struct.unpack(">II", out.read_bytes()[16:24]))
    assert sizes[1][0] == pytest.approx(2 * sizes[0][0], abs=2)
    assert capsys.readouterr().err == ""


@needs_dot
def test_a_folded_svg_for_a_slide(tmp_path, capsys):
    out = tmp_path / "net.svg"
    assert main(["compile", "resnet18", "--depth", "1", "--size", "16:9", "-o", str(out)]) == 0
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', out.read_text())
    assert 1.2 < float(m[1]) / float(m[2]) < 2.7
    assert capsys.readouterr().err == ""
