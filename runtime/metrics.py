"""Scores of predictions against labels: a confusion matrix and what is read off it.

Everything starts from the confusion matrix (truth x prediction counts), so accuracy, per-class
recall and intersection over union agree with each other by construction. Labels are class ids
per image (N,) or per pixel (N, H, W); host NumPy, since the counts are small.
"""

from __future__ import annotations

import numpy as np


def confusion(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) int64 counts: row = true class, column = predicted class."""
    index = labels.reshape(-1).astype(np.int64) * classes + predicted.reshape(-1)
    return np.bincount(index, minlength=classes * classes).reshape(classes, classes)


def accuracy(matrix: np.ndarray) -> float:
    """Share of correct predictions (images, or pixels for segmentation)."""
    return float(np.trace(matrix) / max(matrix.sum(), 1))


def iou(matrix: np.ndarray) -> np.ndarray:
    """Intersection over union per class; NaN for a class neither present nor predicted."""
    hits = np.diag(matrix).astype(np.float64)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / union


def mean_iou(matrix: np.ndarray) -> float:
    """Mean IoU over the classes that occur in the truth or the predictions."""
    return float(np.nanmean(iou(matrix)))


def render_confusion(matrix: np.ndarray, names: list[str], iou: np.ndarray | None = None) -> str:
    """The matrix as a text table for the terminal, with per-class recall (and IoU, when given).
    Rows are the true classes under their whole names, columns the predicted ones by number, so
    the table stays as narrow as the counts however long the names are."""
    rows = [n if n == str(i) else f"{i} {n}" for i, n in enumerate(names)]  # "3" needs no "3 "
    left = max(len(r) for r in rows)
    width = max(4, len(str(len(names) - 1)), len(str(int(matrix.max()))))
    extra = "      IoU" if iou is not None else ""
    lines = [" " * left + "  " + " ".join(f"{i:>{width}}" for i in range(len(names)))
             + "   recall" + extra]
    for i, (row_name, row) in enumerate(zip(rows, matrix)):
        cells = " ".join(f"{int(v):>{width}}" for v in row)
        line = f"{row_name:<{left}}  {cells}   {row[i] / max(row.sum(), 1):6.1%}"
        lines.append(line + (f"   {iou[i]:6.3f}" if iou is not None else ""))
    return "\n".join(lines)
