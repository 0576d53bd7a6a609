"""Everything that turns arrays into image files (the only module, with report.py, that writes them).

Matplotlib is used for plots with axes (curves, confusion matrix, Grad-CAM panels), headless (Agg),
each figure closed after saving; array pictures (grids) are written with Pillow directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_training_curves(history_rows: Sequence[dict], path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, train vs validation, with phase boundaries marked. PNG."""
    plt = _pyplot()
    epochs = [int(row["epoch"]) for row in history_rows]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "o-"), ("val_", "s--")):
            values = [float(row[prefix + metric]) if row.get(prefix + metric) not in ("", None) else np.nan for row in history_rows]
            if not all(np.isnan(values)):
                axis.plot(epochs, values, style, label=("validation " if prefix else "train ") + metric)
        phases = [row["phase"] for row in history_rows]
        for index in range(1, len(phases)):
            if phases[index] != phases[index - 1]:
                axis.axvline(epochs[index] - 0.5, color="grey", linestyle=":")
                axis.text(epochs[index] - 0.4, axis.get_ylim()[1], phases[index], va="top", fontsize=8, color="grey")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def save_confusion_matrix(confusion: Sequence[Sequence[int]], classes: Sequence[str], path: Path, title: str = "") -> Path:
    """Confusion matrix (rows = true, columns = predicted) with the count in every cell. PNG."""
    plt = _pyplot()
    matrix = np.asarray(confusion)
    size = max(4.0, 0.9 * len(classes) + 2)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted class")
    axis.set_ylabel("true class")
    threshold = matrix.max() / 2 if matrix.size else 0
    for (row, column), value in np.ndenumerate(matrix):
        axis.text(column, row, str(value), ha="center", va="center", color="white" if value > threshold else "black")
    figure.colorbar(image, ax=axis, fraction=0.046)
    axis.set_title(title or f"test confusion matrix ({matrix.sum()} images)")
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
