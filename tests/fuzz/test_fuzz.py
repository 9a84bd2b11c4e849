"""A few hundred seeded mutations of the zoo specs (tests/fuzz/run.py runs thousands): each ends
in a compiled network or in a CnncError that points into the file, never in another exception
or a hang; and the hostile specs of the corpus stay within a bounded amount of memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz_cases import MUTATIONS, case, outcome, specs

CASES = 300
CORPUS = Path(__file__).parents[1] / "cnnc" / "spec" / "broken"


@pytest.fixture(scope="module")
def sources() -> dict[str, bytes]:
    return specs()


@pytest.mark.parametrize("block", range(0, CASES, 50))
def test_mutated_zoo_specs_compile_or_fail_with_a_located_error(block, sources, tmp_path):
    ends = [outcome(case(0, i, sources)[2], tmp_path / "mutated.yaml")
            for i in range(block, block + 50)]
    assert any(end != "ok" for end in ends)  # the mutations do break specs


def test_every_mutation_changes_the_text(sources):
    for i in range(len(MUTATIONS) * 3):
        name, _, text = case(0, i, sources)
        assert text != sources[name] or MUTATIONS[i % len(MUTATIONS)].__name__ in (
            "misspell_key", "duplicate_id")  # these may find nothing to change


MEASURE = """
import json, sys
from cnnc import CnncError, compile_file, compile_text
ends = {}
for path in sys.argv[1:]:
    try:
        compile_file(path)
        ends[path] = "ok"
    except CnncError as e:
        ends[path] = e.diagnostics[0].kind
big = "name: t\\ninput: [3, 8, 8]\\nlayers:\\n  - {op: adaptive_avgpool, size: 1000000000}\\n"
ends["adaptive"] = compile_text(big).output_shape[1]
# VmHWM is this process's own peak; ru_maxrss would carry over pytest's from before the exec
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"ends": ends, "peak_mib": peak / 1024}))
"""


def test_hostile_specs_are_refused_within_bounded_memory(tmp_path):
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as f:
        f.truncate(50 << 20)  # 50 MB, refused by its size before it is read
    paths = [str(p) for p in sorted(CORPUS.glob("limit_*.yaml"))] + [
        str(CORPUS / "expression_string_arithmetic.yaml"), str(huge)]
    done = subprocess.run([sys.executable, "-c", MEASURE, *paths], check=False,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ends"].pop("adaptive") == 10**9
    assert set(report["ends"].values()) <= {"limit", "expression", "type"}
    assert report["peak_mib"] < 250  # importing cnnc alone takes about 60
