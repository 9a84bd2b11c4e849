"""`cnnc compile SPEC --input-sizes [RANGE]` as a user meets it: output, formats, exit codes."""

from __future__ import annotations

import json

import pytest

from cnnc.cli import main


def test_the_table_lists_the_sizes_and_exits_0(capsys):
    assert main(["compile", "unet_original", "--input-sizes", "560..600"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines() == [
        "unet_original: input 1xNxN, N from 560 to 600",
        "  fit          2 sizes  572, 588",
        "  pool drops  39 sizes  560..600 except 572, 588",
        "  fail            none",
        ("pool drops: compiles, but a floor-mode pool leaves the last rows or columns out "
         "(warning[dropped])"),
        "the given input 1x572x572 fits"]


def test_no_range_scans_one_to_four_times_the_input(capsys):
    assert main(["compile", "lenet5", "--input-sizes"]) == 0
    assert capsys.readouterr().out.startswith("lenet5: input 1xNxN, N from 1 to 128\n")


def test_one_size_is_a_range_and_input_sets_the_shape(capsys):
    assert main(["compile", "unet_original", "--input", "3x573x573", "--input-sizes",
                 "573"]) == 0
    out = capsys.readouterr().out
    assert "  pool drops  1 size  573" in out
    assert out.endswith("the given input 3x573x573 compiles, but a pool drops pixels\n")


def test_json_and_the_output_file(tmp_path, capsys):
    out = tmp_path / "sizes.json"
    assert main(["compile", "unet_original", "--input-sizes", "180..220", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["format"] == "cnnc.input_sizes"
    assert doc["scans"][0]["fits"]["ranges"] == [[188, 220, 16]]
    assert main(["compile", "unet_original", "--input-sizes", "180..220", "--format",
                 "json"]) == 0
    assert json.loads(capsys.readouterr().out) == doc


@pytest.mark.parametrize("text, reason", [
    ("abc", "'abc' is not a range of sizes"),
    ("64-1024", "'64-1024' is not a range of sizes"),
    ("0..5", "'0..5' holds no sizes"),
    ("9..3", "'9..3' holds no sizes"),
    ("1..100000", "'1..100000' holds 100,000 sizes; scan at most 10,000 at once"),
])
def test_a_bad_range_is_a_usage_error_on_one_line(text, reason, capsys):
    assert main(["compile", "lenet5", "--input-sizes", text]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"cnnc compile: error: --input-sizes: {reason}")


@pytest.mark.parametrize("args", [["--format", "svg"], ["--fuse"], ["-o", "sizes.dot"]])
def test_sizes_come_as_a_table_or_json_only(args, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compile", "lenet5", "--input-sizes", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnnc compile: error: --input-sizes lists sizes") and err.count(
        "\n") == 1


def test_a_spec_without_spatial_axes_or_fitting_no_size_exits_1(tmp_path, capsys):
    assert main(["compile", "highway_mlp", "--input-sizes"]) == 1
    assert "error[input]: 'highway_mlp' takes a vector (784 features)" in capsys.readouterr().err
    spec = tmp_path / "net.yaml"
    spec.write_text("name: n\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 1}\n"
                    "  - {op: add, from: [conv_1, input]}\n")
    assert main(["compile", str(spec), "--input-sizes"]) == 1
    assert f"{spec}:5:21: error[shape]: layer 'add_1' (add)" in capsys.readouterr().err
