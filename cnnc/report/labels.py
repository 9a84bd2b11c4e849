"""How diagrams look: the colour of each op family and the HTML-like labels Graphviz draws.

Fills are light and text is dark, so a diagram prints well in colour and in grey; each label is
a small borderless table: the id in bold, then the op and its key attributes, then the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from cnnc.report.units import si

# RULES[op].family -> fill; the legend lists them in this order.
FILLS: dict[str, str] = {
    "conv": "#cfe2f3",        # light blue
    "linear": "#d9d2e9",      # lavender
    "pool": "#d9ead3",        # light green
    "norm": "#fff2cc",        # light yellow
    "activation": "#fce5cd",  # light orange
    "merge": "#f4cccc",       # light red
    "resample": "#d0e0e3",    # light teal
    "shape": "#eeeeee",       # light grey
    "regularise": "#ffffff",  # white
}
BLOCK_FILL = "#e6e6e6"        # a collapsed block instance
# Clusters darken with nesting; opaque, as some renderers (PDF printers, gd) drop alpha.
CLUSTER_FILLS = ("#f7f7f7", "#eeeeee", "#e5e5e5", "#dcdcdc")
INK = "#222222"               # text and borders
FAINT = "#555555"             # secondary text and edges


@dataclass(frozen=True)
class Font:
    """A diagram's typeface and the size of its layer text; every other size (title, figures,
    edge labels, legend) keeps its proportion to that one, so a bigger font scales the picture."""

    name: str = "Helvetica"
    size: float = 10

    def pt(self, default: float) -> str:
        """The point size, as DOT text, of what is `default` points in the default font."""
        return f"{default * self.size / 10:g}"


DEFAULT_FONT = Font()


def _table(rows: list[str], cellpadding: int = 1) -> str:
    cells = "".join(f"<TR><TD>{row}</TD></TR>" for row in rows if row)
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="{cellpadding}">'
            f"{cells}</TABLE>>")


def _small(text: str, font: Font) -> str:
    return f'<FONT POINT-SIZE="{font.pt(8)}" COLOR="{FAINT}">{text}</FONT>'


def figures(shape: str, params: int, macs: int | None = None, frozen: bool = False) -> str:
    """`64×56×56 · 36.9 K params`; zero counts are left out."""
    parts = [escape(shape)]
    if params:
        parts.append(f"{si(params)} params" + (" (frozen)" if frozen else ""))
    if macs:
        parts.append(f"{si(macs)} MACs")
    return " · ".join(parts)


def layer_label(name: str, op: str, summary: str, figures_line: str, font: Font) -> str:
    """Id, op and attributes, figures; the op line is left out where it would repeat the id."""
    head = f"{op} {summary}".strip()
    return _table([f"<B>{escape(name)}</B>", "" if head == name else escape(head),
                   _small(figures_line, font)])


def instance_label(path: str, block: str, layers: int, figures_line: str,
                   font: Font) -> str:
    return _table([f"<B>{escape(path)}</B>",
                   f"<I>{escape(block)}</I> · {layers} layer{'s' * (layers != 1)}",
                   _small(figures_line, font)])


def cluster_label(path: str, block: str, params: int, font: Font) -> str:
    text = f"<B>{escape(path)}</B>  <I>{escape(block)}</I>"
    return f"<{text}{'  ' + _small(si(params) + ' params', font) if params else ''}>"


def _swatch(fill: str, text: str, font: Font, style: str = "") -> str:
    return (f'<TD BGCOLOR="{fill}" BORDER="1" COLOR="{FAINT}"{style} CELLPADDING="3">'
            f'<FONT POINT-SIZE="{font.pt(9)}">{escape(text)}</FONT></TD>')


def title_label(name: str, totals_line: str, font: Font) -> str:
    return _table([f'<FONT POINT-SIZE="{font.pt(16)}"><B>{escape(name)}</B></FONT>',
                   escape(totals_line)], cellpadding=2)


def legend_label(families: list[str], collapsed: bool, training_only: bool,
                 font: Font) -> str:
    """The colours (and marks) used in a diagram, as a row of labelled swatches."""
    swatches = [_swatch(FILLS[f], f, font) for f in families]
    if collapsed:
        swatches.append(_swatch(BLOCK_FILL, "block", font))
    if training_only:
        swatches.append(_swatch("#ffffff", "training only", font, ' STYLE="dashed"'))
    return (f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="0">'
            f'<TR>{"".join(swatches)}</TR></TABLE>>')
