"""Fitting a diagram to a page: the `--size` a user asks for, and folding a long network into
columns (TB) or rows (LR) so that the picture comes out at about the page's aspect.

A network is a long chain: drawn top to bottom it is a column 4 to 60 times taller than wide.
Folding cuts the chain by level (the longest path to a node from the input) into runs of about
as many levels each, every cut moved to where it breaks little (between blocks, where one
tensor crosses), and sets the runs side by side; n folds make the picture about n times wider
and n times shorter. The number of folds is chosen before Graphviz runs (the DOT text stays a
pure function of the network and the options) from an estimate of the picture: each node's box
from its label's rows, each level's extent from the boxes, edge labels and clusters on it.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
from dataclasses import dataclass
from html import unescape

from cnnc.report.diagram import Diagram, Edge, Instance
from cnnc.report.labels import Font

CM = 1 / 2.54
# Graphviz's distances in inches, shared with the DOT text so the estimate follows the layout
NODESEP, RANKSEP, FOLDSEP = 0.5, 0.35, 0.6
CLUSTER_MARGIN = 16 / 72  # Graphviz's 8 points on each side
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([x:])\s*(\d+(?:\.\d+)?)\s*(in|cm)?\s*")


Box = tuple[float, float]  # width and height in inches


@dataclass(frozen=True)
class Boxes:
    """About how big Graphviz draws the parts of a diagram."""

    nodes: dict[str, Box]
    labels: dict[Edge, Box]  # each edge's label
    title: Box
    legend: Box
    cluster: Box             # a cluster's label


@dataclass(frozen=True)
class Page:
    """What the picture should fit: an aspect (width / height), and a page in inches or none."""

    aspect: float
    inches: tuple[float, float] | None = None


def parse_size(text: str) -> Page:
    """`16:9` (an aspect), `10x7.5in` or `25x19cm` (a page; inches without a unit); raises
    ValueError with a one-line message."""
    m = _SIZE.fullmatch(text.lower())
    w, h = (float(m[1]), float(m[3])) if m else (0.0, 0.0)
    if not (m and w > 0 and h > 0) or (m[2] == ":" and m[4]):
        raise ValueError(f"'{text}' is not a size: give an aspect like 16:9, or a page like "
                         "10x7.5in or 25x19cm")
    if m[2] == ":":
        return Page(w / h)
    scale = CM if m[4] == "cm" else 1.0
    return Page(w / h, (w * scale, h * scale))


def levels(d: Diagram) -> dict[str, int]:
    """Each drawn node's level: the number of edges on the longest path to it from the input.
    An edge against the topological order (a collapsed instance read by a node it feeds) is
    left out, as Graphviz reverses it."""
    order = list(dict.fromkeys(d.owner.values()))  # the input, then topological
    at = {n: i for i, n in enumerate(order)}
    level = dict.fromkeys(order, 0)
    for e in sorted(d.edges, key=lambda e: at[e.head]):
        if at[e.tail] < at[e.head]:
            level[e.head] = max(level[e.head], level[e.tail] + 1)
    return level


def label_box(attrs: str, font: Font) -> Box:
    """About how big Graphviz draws a node with these DOT attributes, from its HTML-like label:
    each row's cells (their text and point size) side by side, the rows one above the other,
    and the node's margins."""
    width = height = 0.0
    for row in re.findall(r"<TR>(.*?)</TR>", attrs):
        cells = []
        for cell in re.findall(r"<TD[^>]*>(.*?)</TD>", row):
            size = re.search(r'POINT-SIZE="([\d.]+)"', cell)
            cells.append(text_box([(unescape(re.sub(r"<[^>]+>", "", cell)),
                                    float(size[1]) if size else font.size)], (0.1, 0)))
        width = max(width, sum(w for w, _ in cells))
        height += max(h for _, h in cells)
    return width + 0.2, height + 0.15


def text_box(rows: list[tuple[str, float]], margins: Box = (0.1, 0.05)) -> Box:
    """About how big Graphviz draws rows of (text, point size) in Helvetica: 0.55 em a
    character, 1.3 em a row."""
    return (max(len(text) * pt for text, pt in rows) * 0.55 / 72 + margins[0],
            sum(pt for _, pt in rows) * 1.3 / 72 + margins[1])


def _extents(d: Diagram, level: dict[str, int], boxes: Boxes,
             across_axis: int) -> tuple[list[float], list[float]]:
    """Each level's extent along the flow (with the gap to the next) and across it. Graphviz
    draws a level's nodes on one rank and the labels of the edges that leave it on a rank of
    their own; an edge that passes a rank takes a lane on it, and a cluster around a rank
    widens it by its margins. (Measured: in LR the gap holds a label's width and two
    ranksep, in TB a label's height and one.)"""
    count = max(level.values()) + 1
    along, gaps = [0.0] * count, [0.0] * count
    nodes, labels = [0.0] * count, [0.0] * count  # each rank's extent across the flow
    for node, box in boxes.nodes.items():
        along[level[node]] = max(along[level[node]], box[1 - across_axis])
        nodes[level[node]] += box[across_axis] + NODESEP
    for e in d.edges:
        first, last = level[e.tail], level[e.head]
        middle = (first + last - 1) // 2  # the gap a long edge's label sits in
        for gap in range(first, last):
            labels[gap] += NODESEP + (boxes.labels[e][across_axis] if gap == middle else 0)
            gaps[gap] = max(gaps[gap], boxes.labels[e][1 - across_axis] if gap == middle else 0)
        for passed in range(first + 1, last):
            nodes[passed] += NODESEP
    for first, last in _cluster_spreads(d, level):
        for at in range(first, last + 1):
            nodes[at] += CLUSTER_MARGIN
        if across_axis == 0:  # TB: the label heads the cluster, between it and the rank above
            gaps[max(first - 1, 0)] += boxes.cluster[1] + CLUSTER_MARGIN / 2
    ranksep = RANKSEP * (1 if across_axis == 0 else 2)
    return ([a + ranksep + g for a, g in zip(along, gaps)],
            [max(n, lab) for n, lab in zip(nodes, labels)])


def _cluster_spreads(d: Diagram, level: dict[str, int]) -> list[tuple[int, int]]:
    """The first and last level of each cluster."""
    spreads = []

    def walk(where: Instance) -> None:
        for m in where.members:
            if isinstance(m, Instance) and not m.collapsed:
                at = [level[d.owner[n]] for n in m.layers]
                spreads.append((min(at), max(at)))
                walk(m)
    walk(d.root)
    return spreads


def _cut_costs(d: Diagram, level: dict[str, int]) -> list[int]:
    """What a cut after each level breaks: the tensors that cross it (each an edge from one
    fold to the next) and, three times over, the clusters it splits in two."""
    count = max(level.values()) + 1
    tails: list[set[str]] = [set() for _ in range(count)]
    for e in d.edges:
        for at in range(level[e.tail], level[e.head]):
            tails[at].add(e.tail)
    costs = [len(t) for t in tails]
    for first, last in _cluster_spreads(d, level):
        for at in range(first, last):
            costs[at] += 3  # a block drawn in two halves reads worse than one more edge
    return costs


def fold_diagram(d: Diagram, level: dict[str, int], boxes: Boxes, rankdir: str,
                 aspect: float | None = None, folds: int | None = None) -> dict[str, int]:
    """Each drawn node's fold (0, 1, ...): `folds` of them, else as many as bring the estimated
    picture closest to `aspect`, else one."""
    across_axis = 0 if rankdir in ("TB", "BT") else 1
    along, across = _extents(d, level, boxes, across_axis)
    costs = _cut_costs(d, level)

    @functools.cache
    def off(n: int) -> float:  # how far the picture in n folds is from the aspect
        width, height = _size(along, across, costs, boxes, across_axis, n)
        return math.log(width / height / aspect)

    if folds is None:
        folds = 1
        if aspect is not None:  # fold until the picture passes the aspect, then take the closer
            for n in range(2, len(along) + 1):
                if abs(off(n)) < abs(off(folds)):
                    folds = n
                if (off(n) > 0) != (off(1) > 0):
                    break
    runs = _cut(costs, min(folds, len(costs)))
    return {node: runs[at] for node, at in level.items()}


def _size(along: list[float], across: list[float], costs: list[int], boxes: Boxes,
          across_axis: int, n: int) -> Box:
    """The estimated width and height of the picture folded `n` times."""
    runs = _cut(costs, n)
    folds = [[at for at, r in enumerate(runs) if r == k] for k in range(n)]
    # the folds' levels line up across them (the odd ones run backwards), so each of those
    # ranks is as long as its longest level
    ranks = itertools.zip_longest(*(f[::-1] if k % 2 else f for k, f in enumerate(folds)))
    long = sum(max(along[at] for at in rank if at is not None) for rank in ranks)
    wide = sum(max(across[at] for at in f) for f in folds) + FOLDSEP * (n - 1)
    (title_w, title_h), (legend_w, legend_h) = boxes.title, boxes.legend
    if across_axis == 0:  # the legend on a rank above the input, the title above all
        return max(wide, title_w, legend_w), long + legend_h + RANKSEP + title_h
    return max(long + legend_w + RANKSEP, title_w), max(wide, legend_h) + title_h


def _cut(costs: list[int], n: int) -> list[int]:
    """Each level's fold when the levels are cut into `n` runs of about as many levels each
    (the folds line up rank by rank, so equal counts make the shortest picture and let each
    fold end where the next begins), each cut moved to where it breaks less (`costs`: a
    unit of cost weighs as much as a seventh of a run). No run is empty."""
    run = len(costs) / n
    cuts: list[int] = []
    for k in range(1, n):
        first, last = cuts[-1] + 1 if cuts else 0, len(costs) - 1 - (n - k)
        cuts.append(min(range(first, last + 1),
                        key=lambda at: abs(at + 1 - k * run) / run + costs[at] / 7))
    return [bisect.bisect_left(cuts, at) for at in range(len(costs))]
