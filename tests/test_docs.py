"""The docs stay true: every whole spec in the README and docs/ compiles (or fails, where the text
says so with `<!-- expect-error -->`), every printed sample is what the program prints today,
and the zoo's count is the zoo's.

Markers tie a sample to what it shows: `<!-- source: PATH -->` before a block quotes that file
of the repository whole; `<!-- file: NAME -->` before a yaml block saves it as
NAME; `<!-- output: ARGS -->` before a text block runs `cnnc ARGS` on the saved files and
compares stdout and stderr with the block, where a line `...` stands for any lines and a first
line `$ command` is the prompt; `<!-- run -->` before a python block runs it (`<!-- run: needs
torch -->` where it uses PyTorch).
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from cnnc import CnncError, compile_text
from cnnc.cli import main
from cnnc.zoo import zoo_names

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"((?:<!-- [^\n]* -->\n)*)```(\w*)\n(.*?)```", re.DOTALL)


def blocks(path: Path) -> list[tuple[list[str], str, str]]:
    """(markers, language, text) of every fenced block, in order."""
    return [(re.findall(r"<!-- (.*?) -->", m.group(1)), m.group(2), m.group(3))
            for m in BLOCK.finditer(path.read_text())]


def whole_specs() -> list[tuple[str, list[str], str]]:
    found = []
    for path in DOCS:
        for i, (markers, language, text) in enumerate(blocks(path)):
            if language == "yaml" and re.search(r"^name:", text, re.MULTILINE) and re.search(
                    r"^layers:", text, re.MULTILINE):
                found.append((f"{path.name}#{i}", markers, text))
    return found


@pytest.mark.parametrize("where, markers, text", whole_specs(), ids=lambda v: v
                         if isinstance(v, str) and "#" in v else "")
def test_every_whole_spec_in_the_docs_compiles_or_fails_as_it_says(where, markers, text):
    if "expect-error" in markers:
        with pytest.raises(CnncError):
            compile_text(text, where)
    else:
        compile_text(text, where)


def samples() -> list[tuple[str, str, dict[str, str], str]]:
    found = []
    for path in DOCS:
        files: dict[str, str] = {}
        for i, (markers, _, text) in enumerate(blocks(path)):
            for marker in markers:
                if marker.startswith("file: "):
                    files[marker.removeprefix("file: ")] = text
                elif marker.startswith("output: "):
                    found.append((f"{path.name}#{i}", marker.removeprefix("output: "),
                                  dict(files), text))
    return found


def matches(expected: list[str], got: list[str]) -> bool:
    """`got` line for line, where an expected `...` takes any number of lines."""
    if not expected:
        return not got
    if expected[0] == "...":
        return any(matches(expected[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and expected[0] == got[0] and matches(expected[1:], got[1:])


@pytest.mark.parametrize("where, command, files, text", samples(),
                         ids=lambda v: v if isinstance(v, str) and "#" in v else "")
def test_every_printed_sample_is_what_the_program_prints(where, command, files, text, tmp_path,
                                                         monkeypatch):
    for name, spec in files.items():
        (tmp_path / name).write_text(spec)
    monkeypatch.chdir(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(command.split())
    expected = text.splitlines()
    if expected and expected[0].startswith("$ "):
        expected = expected[1:]
    got = (out.getvalue() + err.getvalue()).splitlines()
    assert matches(expected, got), "\n".join(got)


def python_examples() -> list[tuple[str, str, str]]:
    return [(f"{path.name}#{i}", marker, text) for path in DOCS
            for i, (markers, language, text) in enumerate(blocks(path)) if language == "python"
            for marker in markers if marker.startswith("run")]


@pytest.mark.parametrize("where, marker, text", python_examples(),
                         ids=lambda v: v if isinstance(v, str) and "#" in v else "")
def test_every_python_example_runs(where, marker, text, tmp_path, monkeypatch, capsys):
    if "needs torch" in marker:
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    exec(compile(text, where, "exec"), {"__name__": "__docs__"})  # noqa: S102 (our own docs)


def quoted_sources() -> list[tuple[str, str, str]]:
    return [(f"{path.name}#{i}", marker.removeprefix("source: "), text) for path in DOCS
            for i, (markers, _, text) in enumerate(blocks(path))
            for marker in markers if marker.startswith("source: ")]


@pytest.mark.parametrize("where, source, text", quoted_sources(),
                         ids=lambda v: v if isinstance(v, str) and "#" in v else "")
def test_every_quoted_file_is_the_file_as_it_is(where, source, text):
    """`<!-- source: PATH -->` before a block: the block is that file of the repository, whole."""
    assert text == (ROOT / source).read_text(), f"{where} quotes {source} as it no longer is"


def test_the_markers_find_samples():
    assert len(samples()) >= 3 and len(whole_specs()) >= 5 and len(python_examples()) >= 3


def test_the_readme_counts_the_zoo():
    counts = re.findall(r"the whole zoo \((\d+) models\)", (ROOT / "README.md").read_text())
    assert counts and all(int(n) == len(zoo_names()) for n in counts)
