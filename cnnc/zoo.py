"""The model zoo: the specs in `specs/`, installed with the package as `cnnc/specs/`."""

from __future__ import annotations

import difflib
from pathlib import Path

from cnnc.errors import CnncError, Diagnostic

_PACKAGE = Path(__file__).resolve().parent


def zoo_dir() -> Path:
    """`cnnc/specs/` in an installed wheel; the top-level `specs/` in a checkout."""
    installed = _PACKAGE / "specs"
    return installed if installed.is_dir() else _PACKAGE.parent / "specs"


def zoo_names() -> list[str]:
    return sorted(p.stem for p in zoo_dir().glob("*.yaml"))


def resolve_spec(name_or_path: str) -> Path:
    """A spec file path as given, or the zoo spec of that name; a clear error otherwise."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    zoo = zoo_dir() / f"{name_or_path}.yaml"
    if "/" not in name_or_path and zoo.is_file():
        return zoo
    if not name_or_path.strip():
        message = "no spec given: name a YAML file or a zoo model"
    elif path.is_dir():
        message = f"'{name_or_path}' is a directory, not a spec file"
    elif path.exists():
        message = f"'{name_or_path}' is not a regular file (a device or a pipe), not a spec file"
    else:
        message = f"no spec file '{name_or_path}' and no zoo model of that name"
    close = difflib.get_close_matches(path.stem, zoo_names(), n=3)
    hint = (f"did you mean {', '.join(repr(c) for c in close)}?" if close
            else "`cnnc zoo` lists the zoo models")
    raise CnncError([Diagnostic("input", message, None, hint=hint)])
