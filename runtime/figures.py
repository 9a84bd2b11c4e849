"""Pictures of a run (matplotlib): curves.png, loss and accuracy per epoch; the confusion
matrix of an evaluation (with per-class IoU for segmentation); and for segmentation, inputs
next to their true and predicted masks.

Each is written to a temporary file and renamed, so a reader (or a kill) never sees half a
picture.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    _pyplot().close(fig)
    os.replace(tmp, path)


def plot_curves(path: Path, history: list[dict], title: str) -> None:
    """Loss and accuracy (and mean IoU) of the epochs so far: training, validation when the
    run holds some out, and test."""
    plt = _pyplot()

    epochs = [r["epoch"] for r in history]
    fig, (loss, acc) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    for split, style in (("train", "-o"), ("val", "--d"), ("test", "-s")):
        if not history or f"{split}_loss" not in history[0]:
            continue
        loss.plot(epochs, [r[f"{split}_loss"] for r in history], style, ms=3, label=split)
        acc.plot(epochs, [100 * r[f"{split}_acc"] for r in history], style, ms=3, label=split)
        if f"{split}_miou" in history[0]:
            acc.plot(epochs, [100 * r[f"{split}_miou"] for r in history], style[:-1] + "^",
                     ms=3, label=f"{split} mIoU")
    loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    acc.set(xlabel="epoch", ylabel="%", title="accuracy")
    for ax in (loss, acc):
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)


def plot_masks(path: Path, images: np.ndarray, truth: np.ndarray, predicted: np.ndarray,
               palette: np.ndarray, classes: list[str]) -> None:
    """One row per example: the input (N, 1 or 3, H, W), its true mask and the predicted one
    (N, H, W class ids), coloured by `palette` (K, 3) uint8, with a legend of the classes."""
    plt = _pyplot()
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n + 0.6), dpi=100, squeeze=False)
    for row, (x, t, p) in enumerate(zip(images, truth, predicted)):
        shown = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
        axes[row, 0].imshow(shown, cmap="gray" if x.shape[0] == 1 else None)
        axes[row, 1].imshow(palette[t])
        axes[row, 2].imshow(palette[p])
    for ax, title in zip(axes[0], ("input", "truth", "prediction")):
        ax.set_title(title)
    for ax in axes.flat:
        ax.set_axis_off()
    handles = [plt.Rectangle((0, 0), 1, 1, color=palette[k] / 255) for k in range(len(classes))]
    fig.legend(handles, classes, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.12 if n <= 3 else 0.07, 1, 1))
    _save(fig, path)


def plot_confusion(path: Path, matrix: np.ndarray, classes: list[str], title: str,
                   iou: np.ndarray | None = None) -> None:
    """The confusion matrix (K, K) counts, truth by prediction, each row shaded by its share of
    the true class (so a rare class reads as clearly as a common one) and labelled with it in
    percent; with `iou` (K,), a bar chart of per-class IoU beside it, row by row. Whole class
    names on the axes."""
    plt = _pyplot()
    k = len(classes)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    side = 2.5 + 0.45 * k  # inches: room for the cells and the names
    widths = [side] if iou is None else [side, 1.5 + 0.25 * k]
    fig, axes = plt.subplots(1, len(widths), squeeze=False, dpi=100, width_ratios=widths,
                             sharey=True, figsize=(sum(widths), side), layout="constrained")
    ax = axes[0, 0]
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")  # rows as tall as the bars'
    if k <= 30:  # beyond that the numbers would not fit their cells
        for (i, j), v in np.ndenumerate(share):
            if matrix[i, j]:
                ax.text(j, i, f"{100 * v:.0f}" if v >= 0.005 else "<1", ha="center",
                        va="center", fontsize=7, color="white" if v > 0.5 else "black")
    ax.set_xticks(range(k), classes, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), classes)
    ax.set(xlabel="predicted class", ylabel="true class", title="share of each true class (%)")
    if iou is not None:
        bars = axes[0, 1]
        bars.barh(range(k), np.nan_to_num(iou), color="tab:blue")
        bars.set(xlim=(0, 1), xlabel="IoU", title=f"IoU per class (mean {np.nanmean(iou):.3f})")
        bars.grid(axis="x", alpha=0.3)
    fig.suptitle(title)
    _save(fig, path)
