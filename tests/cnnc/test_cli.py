"""The command line as a user meets it: exit codes, where output goes, zoo names, overrides."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnnc.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnc", *args], capture_output=True, text=True,
                          check=False)


def test_zoo_model_by_name_from_any_directory(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cnnc", "compile", "lenet5", "--format", "json"],
                            capture_output=True, text=True, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["totals"]["params"] == 61706


def test_a_spec_error_exits_1_with_a_located_message_and_no_traceback(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: bad\ninput: [1, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 9}\n")
    result = run("compile", str(spec))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"{spec}:4:32: error[size]: layer 'conv_1' (conv)")
    assert "Traceback" not in result.stderr


def test_unknown_spec_name_suggests_zoo_models():
    result = run("compile", "resnet19")
    assert result.returncode == 1
    assert "error[input]: no spec file 'resnet19'" in result.stderr
    assert "'resnet18'" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["compile", "lenet5", "--input", "3xbanana"])
    assert exit_.value.code == 2
    assert "not a shape" in capsys.readouterr().err


def test_input_override(capsys):
    assert main(["compile", "resnet20_cifar", "--input", "1x28x28", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["input_shape"] == [1, 28, 28]
    assert doc["nodes"][0]["output_shape"] == [16, 28, 28]
    assert doc["totals"]["params"] == 272474 - 2 * 16 * 9  # conv1 sees 1 channel instead of 3


def test_input_override_that_cannot_work_is_a_shape_error(capsys):
    assert main(["compile", "lenet5", "--input", "1x8x8"]) == 1
    assert "error[size]: layer 'c3' (conv)" in capsys.readouterr().err


def test_zoo_lists_every_model_with_totals(capsys):
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    assert "resnet152" in out and "60.2 M" in out and "11.5 G" in out


def test_dot_format(capsys):
    assert main(["compile", "mnist1d_cnn", "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert out.startswith('digraph "mnist1d_cnn" {') and out.rstrip().endswith("}")


# --- diagrams: -o, --format, --depth, --rankdir, and a machine without Graphviz -------------

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")


@needs_dot
@pytest.mark.parametrize("name, magic", [("net.svg", b"<?xml"), ("net.png", b"\x89PNG"),
                                         ("net.pdf", b"%PDF")])
def test_output_format_follows_the_extension(tmp_path, capsys, name, magic):
    out = tmp_path / name
    assert main(["compile", "lenet5", "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)
    assert capsys.readouterr() == ("", "")


def test_dot_json_and_table_files(tmp_path, capsys):
    for name, start in [("net.dot", 'digraph "lenet5" {'), ("net.gv", "digraph"),
                        ("net.json", "{"), ("net.txt", "lenet5: input 1x32x32")]:
        assert main(["compile", "lenet5", "-o", str(tmp_path / name)]) == 0
        assert (tmp_path / name).read_text().startswith(start)
    assert capsys.readouterr().out == ""


@needs_dot
def test_format_option_wins_over_the_extension(tmp_path):
    out = tmp_path / "diagram.out"
    assert main(["compile", "lenet5", "-o", str(out), "--format", "svg"]) == 0
    assert b"<svg" in out.read_bytes()


@needs_dot
def test_svg_to_stdout_without_o():
    result = run("compile", "lenet5", "--format", "svg", "--depth", "0")
    assert result.returncode == 0 and "<title>c1</title>" in result.stdout


def test_depth_and_rankdir_reach_the_dot(capsys):
    assert main(["compile", "resnet18", "--format", "dot", "--depth", "0", "--rankdir", "lr"]) == 0
    out = capsys.readouterr().out
    assert "rankdir=LR" in out and '"layer1" -> "layer2" [label="64×56×56"];' in out
    assert "layer1.0.conv1" not in out


def test_bad_output_paths_are_one_line_usage_errors(tmp_path, capsys):
    for args, phrase in [
        (["-o", str(tmp_path / "missing" / "net.svg")], "there is no directory"),
        (["-o", str(tmp_path / "net.jpg")], "cannot tell a format from"),
        (["-o", str(tmp_path)], "is a directory"),
        (["--depth", "1"], "--depth and --rankdir shape diagrams"),
        (["--format", "json", "--rankdir", "LR"], "not json"),
    ]:
        assert main(["compile", "lenet5", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("cnnc compile: error: ") and phrase in err
        assert err.count("\n") == 1 and "Traceback" not in err


def test_a_negative_depth_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["compile", "lenet5", "--depth", "-1", "--format", "dot"])
    assert exit_.value.code == 2 and "not a depth" in capsys.readouterr().err


def test_an_unwritable_output_is_a_usage_error(monkeypatch, tmp_path, capsys):
    def refuse(self, data):  # as a read-only directory would, even for root
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Path, "write_bytes", refuse)
    assert main(["compile", "lenet5", "-o", str(tmp_path / "net.json")]) == 2
    err = capsys.readouterr().err
    assert err == (f"cnnc compile: error: cannot write '{tmp_path / 'net.json'}': "
                   "Permission denied\n")


def test_without_graphviz_the_dot_file_is_written_with_a_one_line_hint(tmp_path):
    out = tmp_path / "net.png"
    result = subprocess.run([sys.executable, "-m", "cnnc", "compile", "resnet18", "-o", str(out),
                             "--depth", "1"], capture_output=True, text=True, check=False,
                            env={**os.environ, "PATH": str(tmp_path)})
    assert result.returncode == 3
    assert not out.exists()
    assert (tmp_path / "net.dot").read_text().startswith('digraph "resnet18" {')
    assert result.stderr.count("\n") == 1 and "apt-get install graphviz" in result.stderr
    assert f"wrote {tmp_path / 'net.dot'} instead" in result.stderr and result.stdout == ""


def test_without_graphviz_an_image_on_stdout_fails_with_a_hint(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["compile", "lenet5", "--format", "svg"]) == 3
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "brew install graphviz" in captured.err and "--format dot" in captured.err


def test_compile_loads_neither_numpy_nor_numba():
    # The compiler's start-up stays light: only `cnnc run` loads the runtime's array stack.
    import subprocess
    import sys
    code = ("import sys; from cnnc.cli import main; main(['compile', 'resnet18', '--fuse']);"
            "print(sorted(m for m in ('numpy', 'numba', 'llvmlite') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
