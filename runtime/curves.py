"""curves.png: loss and accuracy per epoch, training and test, side by side (matplotlib)."""

from __future__ import annotations

import os
from pathlib import Path


def plot_curves(path: Path, history: list[dict], title: str) -> None:
    """Draw the epochs so far; written to a temporary file and renamed, so a reader (or a
    kill) never sees half a picture."""
    import matplotlib
    matplotlib.use("Agg")  # files only: no display needed, none opened
    import matplotlib.pyplot as plt

    epochs = [r["epoch"] for r in history]
    fig, (loss, acc) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=100)
    for split, style in (("train", "-o"), ("test", "-s")):
        loss.plot(epochs, [r[f"{split}_loss"] for r in history], style, ms=3, label=split)
        acc.plot(epochs, [100 * r[f"{split}_acc"] for r in history], style, ms=3, label=split)
    if history and "test_miou" in history[0]:
        acc.plot(epochs, [100 * r["test_miou"] for r in history], "-^", ms=3, label="test mIoU")
    loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    acc.set(xlabel="epoch", ylabel="%", title="accuracy")
    for ax in (loss, acc):
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.replace(tmp, path)
