"""The command line as a user meets it: exit codes, where output goes, zoo names, overrides."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cnnc.cli import main


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnc", *args], capture_output=True, text=True)


def test_zoo_model_by_name_from_any_directory(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cnnc", "compile", "lenet5", "--format", "json"],
                            capture_output=True, text=True, cwd=tmp_path)
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
