"""A network's diagram as an object: it shows itself in a notebook and saves as SVG, PNG, PDF or
DOT. `Compiled.diagram(...)` makes one; `cnnc compile` draws through one too.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnnc.ir import keys
from cnnc.report.diagram import plan_diagram
from cnnc.report.dot import RANKDIRS, Picture, plan_picture
from cnnc.report.labels import Font
from cnnc.report.layout import parse_size
from cnnc.report.render import RenderError, render, svg_or_none

if TYPE_CHECKING:
    from cnnc.compiled import CompiledData

SAVES = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
# A notebook shows the most detail whose nodes fit this many, on a wide page: about what a
# screen-wide picture holds with its text still readable (resnet18 at depth 1, U-Net at 1).
NOTEBOOK_NODES = 40
NOTEBOOK_SIZE = "16:9"
UNFOLDED = "Graphviz could not lay out the picture folded"


@dataclass(frozen=True)
class Drawing:
    """A diagram of `compiled` with its options (see Compiled.diagram)."""

    compiled: CompiledData
    depth: int | None = None
    rankdir: str = "TB"
    size: str | None = None
    fold: int | None = None
    dpi: float | None = None
    font: str = "Helvetica"
    fontsize: float = 10

    def __post_init__(self) -> None:
        if self.rankdir not in RANKDIRS:
            raise ValueError(f"rankdir is one of {', '.join(RANKDIRS)}, not {self.rankdir!r}")
        check(size=self.size, fold=self.fold, dpi=self.dpi, fontsize=self.fontsize)

    @cached_property
    def picture(self) -> Picture:
        return plan_picture(self.compiled, self.depth, self.rankdir, size=self.size,
                            fold=self.fold, font=Font(self.font, self.fontsize))

    @cached_property
    def dot(self) -> str:
        """The DOT text, the same as `cnnc compile --format dot` with these options."""
        return self.picture.dot()

    def render(self, fmt: str) -> tuple[bytes, list[str]]:
        """The picture as `fmt` (svg, png, pdf) and Graphviz's warnings; raises RenderError.
        Graphviz cannot lay out some folded pictures (it stops with "trouble in init_rank", a
        bug of its own, seen on GoogLeNet drawn in full); the picture is then drawn in fewer
        folds, and the first warning says so."""
        try:
            return render(self.dot, fmt, self.dpi)
        except RenderError as e:
            if e.missing or self.picture.folds == 1:
                raise
            failure = e
        for folds in range(self.picture.folds - 1, 0, -1):
            try:
                image, warnings = render(self._folded(folds).dot, fmt, self.dpi)
            except RenderError:
                continue
            note = f"{UNFOLDED} in {self.picture.folds} ({failure}); drew it in {folds}"
            return image, [note, *warnings]
        raise failure

    def save(self, path: str | Path) -> None:
        """Write the picture to `path`, in the format its extension names (.svg, .png, .pdf,
        .dot, .gv); raises ValueError for another extension, RenderError without Graphviz."""
        path = Path(path)
        fmt = SAVES.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(f"cannot tell a format from '{path}': name it "
                             f"{', '.join('*' + e for e in SAVES)}")
        path.write_bytes(self.dot.encode() if fmt == "dot" else self.render(fmt)[0])

    def _repr_svg_(self) -> str | None:
        """The picture in a notebook; None where Graphviz is missing (the table shows instead)."""
        svg = svg_or_none(self.dot)  # cached: a notebook asks for the SVG and for the HTML
        if svg is None and self.picture.folds > 1 and shutil.which("dot"):
            try:
                svg = self.render("svg")[0].decode()
            except RenderError:
                return None
            svg = svg[svg.find("<svg"):]
        return svg

    def _folded(self, folds: int) -> Drawing:
        return dataclasses.replace(self, fold=folds)


def readable_depth(c: CompiledData, budget: int = NOTEBOOK_NODES) -> int | None:
    """The most detailed `depth` whose diagram has at most `budget` nodes: None (every layer)
    where all of them fit, else the deepest collapse that fits, else 0 (one node per top-level
    block)."""
    nesting = max((len(c.node(n)[keys.LAYER].calls) for n in c.layers), default=0)
    for depth in (None, *range(nesting - 1, -1, -1)):
        if _nodes(c, depth) <= budget:
            return depth
    return 0


def _nodes(c: CompiledData, depth: int | None) -> int:
    return len(set(plan_diagram(c, depth).owner.values()))


def check(size: str | None = None, fold: int | None = None, dpi: float | None = None,
          fontsize: float | None = None) -> None:
    """Raise ValueError, naming the option, for a size, fold, dpi or font size that cannot be."""
    if size is not None:
        try:
            parse_size(size)
        except ValueError as e:
            raise ValueError(f"size: {e}") from None
    if fold is not None and (isinstance(fold, bool) or not isinstance(fold, int) or fold < 1):
        raise ValueError(f"fold: {fold!r} is not a whole number >= 1")
    for name, value in (("dpi", dpi), ("fontsize", fontsize)):
        if value is not None and not (isinstance(value, int | float) and math.isfinite(value)
                                      and value > 0):
            raise ValueError(f"{name}: {value!r} is not a number > 0")


def from_text(size: str | None, fold: str | None, dpi: str | None,
              fontsize: str | None) -> dict[str, Any]:
    """The diagram options given (as text, on the command line) as Drawing takes them; raises
    ValueError naming the option."""
    check(size=size)
    values: dict[str, Any] = {"size": size}
    for name, text, kind, what in (("fold", fold, int, "a whole number >= 1"),
                                   ("dpi", dpi, float, "a number > 0"),
                                   ("fontsize", fontsize, float, "a number > 0")):
        if text is None:
            continue
        try:
            values[name] = kind(text)
            check(**{name: values[name]})
        except ValueError:
            raise ValueError(f"{name}: '{text}' is not {what}") from None
    return {name: value for name, value in values.items() if value is not None}
