"""The set-up the README promises: `make demo` installs cnnc alone, `make test` adds the test
extras, PyTorch and CuPy (read from `make -n`, which runs nothing)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def planned(target: str, tmp_path: Path) -> str:
    done = subprocess.run(["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return done.stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_demo_installs_only_what_the_demo_needs(tmp_path):
    demo = planned("demo", tmp_path)
    assert "pip install -q -e .\n" in demo and "cnnc compile resnet18" in demo
    for heavy in ("torch", "cupy", "[test]", "graphviz", "dataset-fashion-mnist"):
        assert heavy not in demo


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_test_adds_the_extras_and_the_references(tmp_path):
    test = planned("test", tmp_path)
    for part in ("pip install -q -e '.[test]'", "torch==", "cupy-cuda12x", "pytest"):
        assert part in test


def test_the_wheel_builds_without_a_warning_and_installs_only_names_of_ours(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    said = [line for line in (done.stdout + done.stderr).splitlines()
            if not line.startswith("WARNING: Location")]  # this machine's pip.conf, not ours
    assert said == []
    (wheel,) = tmp_path.glob("cnnc-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    top = {name.split("/")[0] for name in names if not name.startswith("cnnc-")}
    assert top == {"cnnc", "cnnc_runtime"}  # not `runtime`, which anything may be called
    # every package folder is in the wheel (an editable install would hide one left out)
    folders = {"cnnc_runtime" / p.parent.relative_to(ROOT / "runtime")
               for p in (ROOT / "runtime").rglob("__init__.py")}
    folders |= {p.parent.relative_to(ROOT) for p in (ROOT / "cnnc").rglob("__init__.py")}
    missing = {f"{f.as_posix()}/__init__.py" for f in folders} - set(names)
    assert not missing, "add these to pyproject's packages"


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
              and n.level == 0}
    return {name.split(".")[0] for name in names}


def test_the_runtime_never_imports_the_compiler_and_nothing_imports_runtime_by_its_folder():
    sources = [p for d in ("cnnc", "runtime", "tests", "bench") for p in (ROOT / d).rglob("*.py")]
    for path in sources:
        found = imports(path)
        assert "runtime" not in found, path  # the package is cnnc_runtime
        if path.is_relative_to(ROOT / "runtime"):
            assert "cnnc" not in found, path
