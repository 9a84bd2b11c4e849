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


def render_confusion(matrix: np.ndarray, names: list[str]) -> str:
    """The matrix as a text table with per-class recall, for the terminal."""
    short = [n[:9] for n in names]
    width = max(6, *(len(s) for s in short), len(str(int(matrix.max()))))
    head = " " * (width + 2) + " ".join(f"{s:>{width}}" for s in short) + "   recall"
    lines = [head]
    for i, (name, row) in enumerate(zip(short, matrix)):
        recall = row[i] / max(row.sum(), 1)
        cells = " ".join(f"{int(v):>{width}}" for v in row)
        lines.append(f"{name:>{width}}  {cells}   {recall:6.1%}")
    return "\n".join(lines)
