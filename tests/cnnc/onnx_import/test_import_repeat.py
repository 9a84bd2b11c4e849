"""Runs of identical layer sequences become blocks with `repeat:` (cnnc/onnx_import/repeat.py):
ResNet stages past their projecting block, DenseNet's dense layers; the figures stay."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("onnx")

from import_check import figures, imported, layout

import cnnc
from cnnc.compiler import compile_file
from cnnc.export.model import to_onnx


def repeats(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"block: \w+, repeat: (\d+)", text)]


@pytest.mark.parametrize(("name", "want"), [
    ("resnet50", [2, 3, 5, 2]),           # each stage's first block projects, the rest repeat
    ("densenet121", [6, 12, 24, 16]),     # every dense layer of a dense block
    ("resnet20_cifar", [3, 2, 2]),       # stage 1 keeps width and size: no projecting block
])
def test_repeated_blocks_are_found(name, want):
    c = compile_file(name, (3, 32, 32))
    back, tensors, text = imported(to_onnx(c, cnnc.build_model(c).tensors()), name)
    assert repeats(text) == want
    assert figures(back) == figures(c)
    assert layout(back) == layout(c)
    # the checkpoint names the copies' parameters as the compiled spec does
    assert set(tensors) == set(cnnc.build_model(back).tensors())


def test_without_repeat_the_spec_is_flat():
    from cnnc.onnx_import.model import import_model
    c = compile_file("resnet20_cifar")
    text, _ = import_model(to_onnx(c, cnnc.build_model(c).tensors()), repeat=False)
    assert "blocks:" not in text
