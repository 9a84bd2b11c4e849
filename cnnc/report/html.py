"""The notebook view of a compiled network: its diagram (when Graphviz is there) above the same
table as the terminal's, as real HTML tables."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from cnnc.report.table import HEADER, RIGHT, headline, layer_rows, total_rows

if TYPE_CHECKING:
    from cnnc.compiled import CompiledData

_RIGHT = ' style="text-align:right"'
_INDENT = ' style="padding-left:1.5em"'  # `trainable` under `parameters`, as in the terminal


def _row(cells: tuple[str, ...], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}{_RIGHT if h in RIGHT else ''}>{escape(cell)}</{tag}>"
                            for cell, h in zip(cells, HEADER)) + "</tr>"


def render_html(c: CompiledData, svg: str | None) -> str:
    """A `<div>` with the SVG diagram (left out when `svg` is None), the layer table and the
    totals; Jupyter shows it in place of the SVG alone, so it carries both."""
    rows = layer_rows(c)
    layers = "".join(_row(r) for r in rows)
    totals = "".join(f"<tr><td{_INDENT if name.startswith(' ') else ''}>{escape(name.strip())}"
                     f"</td><td{_RIGHT}>{escape(exact)}</td><td{_RIGHT}>{escape(units)}</td></tr>"
                     for name, exact, units in total_rows(c))
    parts = [
        '<div class="cnnc">',
        svg or "",
        f"<table><caption>{escape(headline(c))}</caption>",
        f"<thead>{_row(HEADER, 'th')}</thead><tbody>{layers}</tbody></table>",
        f"<table><caption>totals, per sample</caption><tbody>{totals}</tbody></table>",
        "<p>* training only: counted in parameters, not in inference MACs or memory</p>"
        if any(r[0].endswith("*") for r in rows) else "",
        "</div>",
    ]
    return "\n".join(p for p in parts if p)
