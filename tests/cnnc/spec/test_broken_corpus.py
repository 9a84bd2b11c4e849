"""The corpus of broken specs in broken/: each file opens with `# expect: KIND LINE:COL ...` (every
diagnostic, in order) and may add `# message: TEXT` (a part of what is printed). The corpus must
hold every error kind that docs/spec.md lists, and `cnnc compile` must end each in exit 1 with
the diagnostics and no traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cnnc import CnncError, compile_file
from cnnc.cli import main

CORPUS = sorted((Path(__file__).parent / "broken").glob("*.yaml"))
DOCS = Path(__file__).parents[3] / "docs" / "spec.md"


def expectations(path: Path) -> tuple[list[tuple[str, int, int]], list[str]]:
    expect, messages = [], []
    for line in path.read_bytes().decode("utf-8", "replace").splitlines():
        if line.startswith("# expect:"):
            for kind, row, col in re.findall(r"([a-z-]+) (\d+):(\d+)", line):
                expect.append((kind, int(row), int(col)))
        elif line.startswith("# message:"):
            messages.append(line.removeprefix("# message:").strip())
    return expect, messages


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_each_broken_spec_gives_its_kinds_lines_and_columns(path, capsys):
    expect, messages = expectations(path)
    assert expect, f"{path.name} has no `# expect:` line"
    with pytest.raises(CnncError) as info:
        compile_file(path)
    assert [(d.kind, d.span.line, d.span.col) for d in info.value.diagnostics] == expect
    for text in messages:
        assert text in str(info.value)
    assert main(["compile", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{path}:") and "Traceback" not in err


def test_the_corpus_holds_every_error_kind_the_docs_list():
    table = DOCS.read_text().split("| kind | cause |")[1].split("\n\n")[0]
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", table, re.MULTILINE))
    documented.discard("input")  # no position: a missing or unreadable file, tested in test_cli
    covered = {kind for path in CORPUS for kind, _, _ in expectations(path)[0]}
    assert "limit" in documented and documented - covered == set()
