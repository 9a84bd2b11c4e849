"""The limits of cnnc/spec/limits.py: each refuses at its bound and accepts just under it, and
anything wrong with a spec file or an input shape is a CnncError, never another exception."""

from __future__ import annotations

import os

import numpy as np
import pytest

from cnnc import CnncError, compile_file, compile_text
from cnnc.cli import main
from cnnc.spec.limits import MAX_BYTES, MAX_INT

HEAD = "name: t\ninput: [3, 8, 8]\n"


def kinds(call, *args, **kwargs) -> list[str]:
    with pytest.raises(CnncError) as info:
        call(*args, **kwargs)
    return [d.kind for d in info.value.diagnostics]


def repeated(n: int) -> str:
    return HEAD + f"blocks:\n  b:\n    layers:\n      - {{op: relu}}\nlayers:\n  - {{block: b, repeat: {n}}}\n"


def test_the_layer_limit_counts_expanded_layers_and_is_an_option(capsys):
    assert len(compile_text(repeated(50), max_layers=50).layers) == 50
    assert kinds(compile_text, repeated(51), max_layers=50) == ["limit"]
    spec = HEAD + ("blocks:\n  two:\n    layers:\n      - {op: relu}\n      - {op: tanh}\n"
                   "layers:\n  - {block: two, repeat: 30}\n")
    assert kinds(compile_text, spec, max_layers=50) == ["limit"]  # refused after the first copy
    assert len(compile_text(spec, max_layers=60).layers) == 60


def test_the_command_line_takes_max_layers(tmp_path, capsys):
    spec = tmp_path / "deep.yaml"
    spec.write_text(repeated(200))
    assert main(["compile", str(spec), "--max-layers", "100"]) == 1
    assert "the network would grow to 200 layers" in capsys.readouterr().err
    assert main(["compile", str(spec), "--max-layers", "200", "--format", "json"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["compile", str(spec), "--max-layers", "0"])
    assert info.value.code == 2


def test_a_file_too_large_is_refused_by_its_size_before_it_is_read(tmp_path, capsys):
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as f:
        f.truncate(50 << 20)  # sparse: reading it would be slow, its size is not
    assert kinds(compile_file, huge) == ["limit"]
    assert main(["compile", str(huge)]) == 1
    err = capsys.readouterr().err
    assert f"52,428,800 bytes; a spec may have at most {MAX_BYTES:,}" in err
    assert kinds(compile_text, " " * (MAX_BYTES + 1)) == ["limit"]


def test_integers_up_to_the_limit_are_accepted():
    spec = HEAD + f"layers:\n  - {{op: conv, out: 4, kernel: 3, stride: {MAX_INT}}}\n"
    assert compile_text(spec).output_shape == (4, 1, 1)
    assert kinds(compile_text, spec.replace(str(MAX_INT), str(MAX_INT + 1))) == ["limit"]


def test_nesting_is_bounded_before_anything_recurses():
    assert kinds(compile_text, HEAD + "layers:\n  - {op: relu, x: " + "[" * 900 + "]" * 900
                 + "}\n") == ["limit"]
    assert kinds(compile_text, HEAD + "layers:\n  - {op: relu, x: " + "[" * 5 + "]" * 5
                 + "}\n") == ["unknown-attribute"]


def test_aliases_are_followed_once():
    spec = HEAD + "blocks:\n  b:\n    layers: &body\n      - {op: relu}\nlayers: *body\n"
    assert compile_text(spec).layers == ["relu_1"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_an_input_error(tmp_path):
    spec = tmp_path / "secret.yaml"
    spec.write_text(repeated(1))
    spec.chmod(0)
    assert kinds(compile_file, spec) == ["input"]


def test_a_directory_a_device_nothing_or_a_missing_file_is_an_input_error(tmp_path):
    for path in (tmp_path, "/dev/null", "", tmp_path / "nope.yaml"):
        assert kinds(compile_file, path) == ["input"]


@pytest.mark.parametrize("shape", [(0, 32, 32), (-1, 32, 32), (1, 2**31, 2), (1.5, 32, 32),
                                   (True, 32, 32), (), (1, 2, 3, 4, 5), "abc", 7])
def test_an_input_shape_given_in_python_is_checked(shape):
    assert kinds(compile_file, "lenet5", input_shape=shape) == ["type"]


def test_an_input_shape_may_be_any_integers():
    assert compile_file("lenet5", input_shape=np.array([1, 32, 32])).input_shape == (1, 32, 32)
