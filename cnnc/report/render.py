"""Drawing DOT text as SVG, PNG or PDF through Graphviz's `dot` program (DOT on its stdin).

Graphviz is a system program, not a Python package; where it is missing, callers fall back to
the DOT text and tell the user how to install it (INSTALL_HINT).
"""

from __future__ import annotations

import functools
import shutil
import subprocess

IMAGE_FORMATS = ("svg", "png", "pdf")
PNG_DPI = 96  # sharp on screens and slides, small enough for a README
INSTALL_HINT = ("install Graphviz: `apt-get install graphviz` (Debian, Ubuntu), "
                "`brew install graphviz` (macOS), or see https://graphviz.org/download/")


class RenderError(Exception):
    """`dot` is missing (`missing` is True) or failed; the message is one line."""

    def __init__(self, message: str, missing: bool = False):
        super().__init__(message)
        self.missing = missing


def render(dot_text: str, fmt: str, dpi: float | None = None) -> tuple[bytes, list[str]]:
    """The diagram drawn by Graphviz as `fmt` (svg, png, pdf), and the warnings Graphviz gave
    (a PNG too large for a bitmap is scaled down, say); raises RenderError. `dpi` sets a
    PNG's resolution (PNG_DPI by default); SVG and PDF have none."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"format is one of {', '.join(IMAGE_FORMATS)}, not {fmt!r}")
    exe = shutil.which("dot")
    if exe is None:
        raise RenderError("Graphviz `dot` was not found on PATH", missing=True)
    # on the command line, not in the DOT text: there Graphviz would scale SVG and PDF by it
    command = [exe, f"-T{fmt}"] + ([f"-Gdpi={dpi or PNG_DPI:g}"] if fmt == "png" else [])
    try:
        done = subprocess.run(command, input=dot_text.encode(), capture_output=True,
                              timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RenderError(f"Graphviz `dot` could not run: {e}") from None
    if done.returncode != 0 or not done.stdout:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise RenderError(f"Graphviz `dot -T{fmt}` failed (exit {done.returncode})"
                          + (f": {reason[0]}" if reason else ""))
    return done.stdout, done.stderr.decode(errors="replace").strip().splitlines()


def svg_or_none(dot_text: str) -> str | None:
    """The SVG of a diagram, without the XML prolog so that it can sit inside HTML; None where
    Graphviz is missing or fails (a notebook then shows the table alone)."""
    if shutil.which("dot") is None:  # before the cache: Graphviz may have been removed since
        return None
    try:
        return _svg(dot_text)
    except RenderError:
        return None


@functools.lru_cache(maxsize=8)
def _svg(dot_text: str) -> str:
    # Cached, as a notebook asks one object for its SVG and its HTML; failures are not cached,
    # so installing Graphviz mid-session works.
    svg = render(dot_text, "svg")[0].decode()
    return svg[svg.find("<svg"):]
