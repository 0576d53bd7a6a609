"""Plots with axes, drawn with matplotlib's object API (no pyplot state, headless): training curves,
the confusion matrix, CAM panels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .overlays import overlay_heatmap


def _save_figure(figure, path: Path, dpi: int = 100, top: float = 1.0, **options) -> Path:
    """Lay out (axes below ``top``, a fraction of the height, leaving room for a suptitle), save
    (format from the suffix) and close a matplotlib figure."""
    figure.tight_layout(rect=(0, 0, 1, top))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi, **options)
    return path


def save_training_curves(history_rows: Sequence[dict], path: Path, title: str = "") -> Path:
    """Loss and accuracy per epoch, train vs validation, with phase boundaries marked. PNG."""
    epochs = [int(row["epoch"]) for row in history_rows]
    figure = Figure(figsize=(11, 4))
    axes = figure.subplots(1, 2)
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "o-"), ("val_", "s--")):
            values = [
                float(row[prefix + metric]) if row.get(prefix + metric) not in ("", None) else np.nan
                for row in history_rows
            ]
            if not all(np.isnan(values)):
                axis.plot(epochs, values, style, label=("validation " if prefix else "train ") + metric)
        phases = [row["phase"] for row in history_rows]
        for index in range(1, len(phases)):
            if phases[index] != phases[index - 1]:
                axis.axvline(epochs[index] - 0.5, color="grey", linestyle=":")
                axis.text(epochs[index] - 0.4, axis.get_ylim()[1], phases[index], va="top", fontsize=8, color="grey")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers, even with two
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    return _save_figure(figure, path)


def _confusion_figure(confusion: Sequence[Sequence[int]], classes: Sequence[str], title: str) -> Figure:
    matrix = np.asarray(confusion)
    size = max(4.0, 0.9 * len(classes) + 2)
    figure = Figure(figsize=(size + 1, size))
    axis = figure.subplots()
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
    return figure


def save_confusion_matrix(
    confusion: Sequence[Sequence[int]], classes: Sequence[str], path: Path, title: str = ""
) -> Path:
    """Confusion matrix (rows = true, columns = predicted) with the count in every cell. PNG."""
    return _save_figure(_confusion_figure(confusion, classes, title), path)


def confusion_matrix_picture(confusion: Sequence[Sequence[int]], classes: Sequence[str], title: str) -> np.ndarray:
    """The ``save_confusion_matrix`` figure as an (h, w, 3) uint8 array (for TensorBoard), no file."""
    canvas = FigureCanvasAgg(_confusion_figure(confusion, classes, title))
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_cam_panel(
    image: np.ndarray,
    heatmaps: Sequence[np.ndarray],
    titles: Sequence[str],
    suptitle: str,
    path: Path,
    geometry=None,
    input_size: int | None = None,
    alpha: float = 0.4,
    scale_label: str = "map / its own peak",
) -> Path:
    """A row of panels: the input, then for each heatmap the map itself (with a colour bar labelled
    ``scale_label``) and its overlay. JPEG.

    ``image`` is the original-resolution RGB image; overlays are drawn at that resolution. Maps are
    (h, w) in [0, 1], drawn with 0 and 1 at the ends of the colour scale.
    """
    panels = 1 + 2 * len(heatmaps)
    figure = Figure(figsize=(3.3 * panels, 3.6))
    axes = figure.subplots(1, panels)
    axes[0].imshow(np.asarray(image, np.uint8))
    axes[0].set_title("input", fontsize=9)
    for number, (heatmap, title) in enumerate(zip(heatmaps, titles)):
        drawn = axes[1 + 2 * number].imshow(heatmap, cmap="jet", vmin=0, vmax=1)
        bar = figure.colorbar(drawn, ax=axes[1 + 2 * number], fraction=0.046, pad=0.03, ticks=[0, 0.5, 1])
        bar.ax.tick_params(labelsize=7)
        bar.set_label(scale_label, fontsize=7)
        axes[1 + 2 * number].set_title(f"{title}\n({heatmap.shape[0]}x{heatmap.shape[1]} map)", fontsize=9)
        axes[2 + 2 * number].imshow(overlay_heatmap(image, heatmap, alpha, geometry=geometry, input_size=input_size))
        axes[2 + 2 * number].set_title(f"{title}: overlay", fontsize=9)
    for axis in axes:
        axis.axis("off")
    figure.suptitle(suptitle, fontsize=10)
    return _save_figure(figure, path, dpi=80, top=0.9, pil_kwargs={"quality": 90})
