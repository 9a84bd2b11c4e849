"""Every op is complete: a gradient check, a PyTorch parity test where PyTorch has the op, a row
in docs/spec.md; and no op is special-cased by name outside its rule, its kernel and the fusion
patterns (docs/adding-an-op.md is the checklist these hold)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnnc.ops import RULES

ROOT = Path(__file__).resolve().parents[1]
# Ops PyTorch has no module or function for, with what stands in for a parity test.
NO_PYTORCH = {
    "crop": "torchvision's CenterCrop is not installed; U-Net parity (test_parity.py) covers it",
    "dropout": "PyTorch draws its own masks; the kernel's mask statistics and scaling are tested",
    "drop_path": "stochastic depth is torchvision's (not installed), not PyTorch's; the "
                 "kernel's per-sample masks and scaling are tested",
}
# Where an op's name may be written: its rule and kernel, the fusion patterns, and the ONNX
# import's tables (ONNX op type -> cnnc op, and the words torch's node names lack).
ALLOWED = ("cnnc/ops/", "cnnc/lower/fuse.py", "cnnc/onnx_import/ops.py",
           "cnnc/onnx_import/ops_windows.py", "cnnc/onnx_import/ops_norms.py",
           "cnnc/onnx_import/convert.py")


@pytest.fixture(scope="module")
def kernel_tests() -> list[tuple[str, str]]:
    """(op-bearing text of the test's file and parameters, test function name) per kernel test."""
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                          "-p", "no:cacheprovider", "tests/runtime/kernels"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    tests = []
    for line in out.splitlines():
        if "::" not in line:
            continue
        path, item = line.split("::", 1)
        function, _, params = item.partition("[")
        words = function.removeprefix("test_").replace("_", " ")  # test_concat_gradient
        tests.append((f"{Path(path).stem.removeprefix('test_')} {words} {params}", function))
    return tests


def _mentions(text: str, op: str) -> bool:
    """`op` as a whole name in `text`, or spelt with spaces (a function's name, split)."""
    return any(re.search(rf"(?<![a-z0-9_]){name}(?![a-z0-9_])", text) is not None
               for name in (op, op.replace("_", " ")))


@pytest.mark.parametrize("op", sorted(RULES))
def test_every_op_has_a_gradient_check_and_a_pytorch_parity_test(op, kernel_tests):
    mine = [function for text, function in kernel_tests if _mentions(text, op)]
    assert any("gradient" in f for f in mine), f"no gradient check names `{op}`"
    if op not in NO_PYTORCH:
        assert any("torch" in f for f in mine), f"no PyTorch parity test names `{op}`"


def test_ops_without_a_pytorch_twin_are_ops():
    assert set(NO_PYTORCH) <= set(RULES)


@pytest.mark.parametrize("op", sorted(RULES))
def test_every_op_is_documented(op):
    spec = (ROOT / "docs" / "spec.md").read_text()
    headings = [line for line in spec.splitlines() if line.startswith("### ")]
    in_table = f"| `{op}` |" in spec
    assert in_table or any(_mentions(h, op) for h in headings), \
        f"docs/spec.md has no section or table row for `{op}`"


def test_no_op_is_special_cased_by_name_outside_its_rule_and_kernel():
    """Lowering, passes and reports read the rule record (view, sees, label, algorithm, ...),
    never `if op == "conv"`; family names (a diagram's colours) are not op names."""
    families = {rule.family for rule in RULES.values()}
    found = []
    files = [*ROOT.glob("cnnc/**/*.py"), *ROOT.glob("runtime/*.py")]
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(ALLOWED):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Constant) and node.value in RULES
                    and node.value not in families):
                found.append(f"{rel}:{node.lineno}: '{node.value}'")
    assert not found, "op names spelled outside the op folders:\n" + "\n".join(found)
