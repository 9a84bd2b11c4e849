"""The summary for papers and spreadsheets: `cnnc compile SPEC --format markdown|latex|csv`.

Markdown and LaTeX carry the terminal table's rows and totals (cnnc/report/table.py) as a
document would show them; CSV carries one row per layer with exact integers, for a spreadsheet
or pandas, and leaves the totals to the sums.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from cnnc.ir import keys
from cnnc.ops.base import fmt
from cnnc.passes.params import numel
from cnnc.report.table import HEADER, RIGHT, headline, layer_rows, receptive_label, total_rows

if TYPE_CHECKING:
    from cnnc.compiled import CompiledData

TRAINING_ONLY_NOTE = "training only: counted in parameters, not in inference MACs or memory"
# The terminal indents a total under the one it refines; a document names it in full.
REFINED = {"  trainable": "trainable parameters", "  in training": "MACs in training",
           "  peak": "peak activations"}


def _totals(c: CompiledData) -> list[tuple[str, str, str]]:
    return [(REFINED.get(name, name), exact, units) for name, exact, units in total_rows(c)]


def render_markdown(c: CompiledData) -> str:
    def row(cells) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    layers = [row(HEADER), row("---:" if h in RIGHT else "---" for h in HEADER),
              *(row((f"`{r[0]}`", *r[1:])) for r in layer_rows(c))]
    totals = [row(("total", "exact", "in units")), row(("---", "---:", "---:")),
              *(row(total) for total in _totals(c))]
    notes = [f"\\* {TRAINING_ONLY_NOTE}"] if _has_training_only(c) else []
    return "\n\n".join([f"**{headline(c)}**", "\n".join(layers), "\n".join(totals), *notes]) + "\n"


def render_latex(c: CompiledData) -> str:
    """A booktabs table (`\\usepackage{booktabs}`), the headline as its caption."""
    spec = "".join("r" if h in RIGHT else "l" for h in HEADER)
    lines = [r"\begin{table}", r"\centering", rf"\caption{{{_tex(headline(c))}}}",
             rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(_tex(h) for h in HEADER) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex(cell) for cell in r) + r" \\" for r in layer_rows(c)]
    lines += [r"\midrule"]
    lines += [rf"\multicolumn{{3}}{{l}}{{{_tex(name)}}} & "
              rf"\multicolumn{{3}}{{r}}{{{_tex(exact)} ({_tex(units)})}} \\"
              for name, exact, units in _totals(c)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if _has_training_only(c):
        lines += [rf"\par\smallskip{{\footnotesize * {_tex(TRAINING_ONLY_NOTE)}}}"]
    return "\n".join(lines + [r"\end{table}"]) + "\n"


def render_csv(c: CompiledData) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["id", "op", "output", "params", "macs", "receptive_field", "training_only"])
    for node in c.layers:
        d = c.node(node)
        w.writerow([node, d[keys.LAYER].op, fmt(d[keys.SHAPE]), numel(d[keys.PARAMS]),
                    d[keys.MACS], receptive_label(d[keys.RECEPTIVE_FIELD]),
                    int(d[keys.TRAINING_ONLY])])
    return out.getvalue()


def _has_training_only(c: CompiledData) -> bool:
    return any(c.node(n)[keys.TRAINING_ONLY] for n in c.layers)


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text: str) -> str:
    """Text with LaTeX's special characters escaped; shapes as 64$\\times$56$\\times$56."""
    escaped = re.sub(r"[\\&%$#_{}~^]", lambda m: _TEX[m.group()], text)
    return re.sub(r"(?<=\d)x(?=\d)", r"$\\times$", escaped).replace(" -> ", r" $\to$ ")
