"""Every op in every attribute variant that exports (tests/cnnc/export/test_onnx_variants.py)
imports back: the same figures and parameter layout, and the same outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")

sys.path.insert(0, str(Path(__file__).parents[1] / "export"))
from import_check import round_trip
from test_onnx_variants import CASES, IMAGE, network

from cnnc.compiler import compile_text

# The export case crops to the size of a conv that nothing else reads: in ONNX that conv
# only gives a size, so it is dead code there. Here the conv is also added in.
VARIANTS = CASES | {"crop": (IMAGE, ("{id: c, op: conv, out: 4, kernel: 3}\n  - {id: k, op: "
                                     "crop, from: [input, c]}\n  - {op: concat, from: [k, c]}"))}


@pytest.mark.parametrize("case", sorted(VARIANTS))
def test_variant_round_trips(case):
    round_trip(compile_text(network(*VARIANTS[case])))
