"""The report of `cnnc compile SPEC --input-sizes`: which sizes fit, as runs and progressions.

The JSON document is `cnnc.input_sizes` version 1; keys are only ever added within a version.
Sizes come as [first, last, step] triples, which list every size without listing each one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cnnc.ops.base import fmt
from cnnc.passes.input_sizes import AxisScan, SizeReport

FORMAT = "cnnc.input_sizes"
VERSION = 1
SHOWN = 8  # pieces of a size list shown in the table; the JSON has them all

_LABELS = {"fits": "fit", "drops": "pool drops", "fails": "fail"}
_STATUS = {"fits": "fits", "drops": "compiles, but a pool drops pixels",
           "fails": "does not compile"}
LEGEND = ("pool drops: compiles, but a floor-mode pool leaves the last rows or columns out "
          "(warning[dropped])")
_AXIS_LETTERS = {1: "L", 2: "HW", 3: "DHW"}


def progressions(sizes: Sequence[int]) -> list[range]:
    """Sorted distinct sizes as ranges, taken greedily from the smallest: a run of consecutive
    sizes, or three or more an equal step apart, or a single size."""
    pieces, i = [], 0
    while i < len(sizes):
        j = i
        if i + 1 < len(sizes):
            step = sizes[i + 1] - sizes[i]
            while j + 1 < len(sizes) and sizes[j + 1] - sizes[j] == step:
                j += 1
            if step > 1 and j - i < 2:
                j = i  # two sizes a step apart read better as two
        step = sizes[j] - sizes[j - 1] if j > i else 1
        pieces.append(range(sizes[i], sizes[j] + 1, step))
        i = j + 1
    return pieces


def _piece(r: range) -> str:
    if len(r) == 1:
        return str(r[0])
    return f"{r[0]}..{r[-1]}" + (f" step {r.step}" if r.step > 1 else "")


def _pieces(pieces: list[range]) -> str:
    """The pieces, where three or more alike repeat at one period as `29..32, 61..64, ...,
    1021..1024 (every 32)`; at most SHOWN items, then how many sizes are left."""
    items, i = [], 0
    while i < len(pieces):
        j = i
        alike = (len(pieces[i]), pieces[i].step)
        while (j + 1 < len(pieces) and (len(pieces[j + 1]), pieces[j + 1].step) == alike
               and pieces[j + 1][0] - pieces[j][0] == pieces[i + 1][0] - pieces[i][0]):
            j += 1
        if j - i >= 2:
            period = pieces[i + 1][0] - pieces[i][0]
            text = (f"{_piece(pieces[i])}, {_piece(pieces[i + 1])}, ..., {_piece(pieces[j])} "
                    f"(every {period})")
            items.append((text, pieces[i:j + 1]))
        else:
            j = i
            items.append((_piece(pieces[i]), pieces[i:i + 1]))
        i = j + 1
    shown = ", ".join(text for text, _ in items[:SHOWN])
    rest = sum(len(r) for _, group in items[SHOWN:] for r in group)
    return shown + (f", and {rest} more" if rest else "")


def describe(sizes: Sequence[int]) -> str:
    """`188..2284 step 16`, or `189..2288 except 204..2284 step 16` where naming the gaps is
    shorter."""
    if not sizes:
        return "none"
    plain = _pieces(progressions(sizes))
    kept = set(sizes)
    gaps = [n for n in range(sizes[0], sizes[-1] + 1) if n not in kept]
    if not gaps:
        return plain
    holes = f"{sizes[0]}..{sizes[-1]} except {_pieces(progressions(gaps))}"
    return holes if len(holes) < len(plain) else plain


def _varied(scan: AxisScan) -> tuple[str, str]:
    """(the input shape with the varied axes as letters, the letter): `1xNxN`, `3xHx480`."""
    letters = _AXIS_LETTERS.get(len(scan.base) - 1, "N" * (len(scan.base) - 1))
    letter = "N" if scan.axis is None and len(scan.base) > 2 else letters[(scan.axis or 1) - 1]
    dims = [str(d) if i == 0 or scan.axis not in (None, i) else letter
            for i, d in enumerate(scan.base)]
    return "x".join(dims), letter


def render_sizes(report: SizeReport) -> str:
    lines = []
    width = max(len(label) for label in _LABELS.values())
    for scan in report.scans:
        shape, letter = _varied(scan)
        lines.append(f"{report.name}: input {shape}, {letter} from {scan.sizes[0]} to "
                     f"{scan.sizes[-1]}")
        counts = {status: f"{len(sizes):,} size{'' if len(sizes) == 1 else 's'}" if sizes
                  else "none" for status in _LABELS for sizes in [getattr(scan, status)]}
        count_width = max(map(len, counts.values()))
        for status, label in _LABELS.items():
            sizes = getattr(scan, status)
            listed = describe(sizes) if sizes else ""
            lines.append(f"  {label:<{width}}  {counts[status]:>{count_width}}  {listed}"
                         .rstrip())
    if any(scan.drops for scan in report.scans):
        lines.append(LEGEND)
    lines.append(f"the given input {fmt(report.base)} {_STATUS[report.base_status]}")
    return "\n".join(lines) + "\n"


def sizes_json(report: SizeReport) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": report.name,
        "input_shape": list(report.base),
        "input_status": report.base_status,
        "scans": [{
            "axes": list(range(1, len(s.base))) if s.axis is None else [s.axis],
            "first": s.sizes[0],
            "last": s.sizes[-1],
            **{status: {"count": len(sizes),
                        "ranges": [[r[0], r[-1], r.step] for r in progressions(sizes)]}
               for status in _LABELS for sizes in [getattr(s, status)]},
        } for s in report.scans],
    }
