"""`cnnc compile --format markdown|latex|csv`: the summary for documents and spreadsheets."""

from __future__ import annotations

import csv
import io

import pytest

import cnnc
from cnnc.cli import main
from cnnc.report.paper import _tex, render_csv, render_latex, render_markdown


@pytest.fixture(scope="module")
def googlenet():
    return cnnc.compile_file("googlenet_aux")  # blocks, merges and training-only heads


def test_csv_rows_are_exact_and_sum_to_the_totals(googlenet):
    rows = list(csv.DictReader(io.StringIO(render_csv(googlenet))))
    assert [r["id"] for r in rows] == googlenet.layers
    assert sum(int(r["params"]) for r in rows) == googlenet.totals.params
    inference = [r for r in rows if r["training_only"] == "0"]
    assert sum(int(r["macs"]) for r in inference) == googlenet.totals.macs
    assert sum(int(r["macs"]) for r in rows) == googlenet.totals.training_macs


def test_markdown_is_a_table_per_layer_and_one_of_totals(googlenet):
    text = render_markdown(googlenet)
    table = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(table) == len(googlenet.layers)
    assert all(line.count(" | ") == 5 for line in table)
    assert "| ---: | ---: | ---: |" in text  # numbers right-aligned
    assert f"| parameters | {googlenet.totals.params:,} |" in text
    assert "| MACs in training |" in text and "\\* training only" in text


def test_latex_is_a_booktabs_table_with_every_layer_escaped(googlenet):
    text = render_latex(googlenet)
    assert text.startswith("\\begin{table}") and text.endswith("\\end{table}\n")
    body = text.split("\\midrule")[1].strip().splitlines()
    assert len(body) == len(googlenet.layers)
    assert all(line.count(" & ") == 5 and line.endswith("\\\\") for line in body)
    assert "\\_" in text and "_" not in text.replace("\\_", "")


@pytest.mark.parametrize("text, tex", [
    ("a_b", r"a\_b"), ("50% & #1", r"50\% \& \#1"), ("{x}", r"\{x\}"), ("$5", r"\$5"),
    ("~^", r"\textasciitilde{}\textasciicircum{}"), ("a\\b", r"a\textbackslash{}b"),
    ("64x56x56", r"64$\times$56$\times$56"), ("box 3", "box 3"), ("a -> b", r"a $\to$ b"),
])
def test_latex_escapes_its_special_characters(text, tex):
    assert _tex(text) == tex


@pytest.mark.parametrize("suffix, start", [(".md", "**lenet5"), (".tex", "\\begin{table}"),
                                           (".csv", "id,op,output")])
def test_the_extension_picks_the_format(tmp_path, suffix, start):
    out = tmp_path / f"lenet5{suffix}"
    assert main(["compile", "lenet5", "-o", str(out)]) == 0
    assert out.read_text().startswith(start)


def test_fuse_stays_with_the_table_and_json(capsys):
    assert main(["compile", "lenet5", "--format", "csv", "--fuse"]) == 2
    assert "--fuse lists fusions in the table or the json" in capsys.readouterr().err
