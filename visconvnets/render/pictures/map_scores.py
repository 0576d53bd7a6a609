"""The pictures of "can these maps be trusted?": deletion/insertion curves per method, and the
randomisation check (rank correlation per step, with one image's maps as the weights go)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from .figures import _save_figure
from .overlays import overlay_heatmap


def save_faithfulness_curves(fractions: np.ndarray, curves: dict, path: Path, title: str = "") -> Path:
    """Mean class probability as pixels are deleted (left) or inserted (right), one line per method. PNG.

    Args:
        fractions: (steps + 1,) share of pixels removed or revealed.
        curves: {method: (deletion (n, steps + 1), insertion (n, steps + 1), is_baseline)}.
    """
    figure = Figure(figsize=(11, 4.2))
    axes = figure.subplots(1, 2)
    for axis, column, name in (
        (axes[0], 0, "deletion (lower is better)"),
        (axes[1], 1, "insertion (higher is better)"),
    ):
        for method, values in curves.items():
            style = ":" if values[2] else "-"
            axis.plot(fractions, np.asarray(values[column]).mean(axis=0), style, label=method)
        axis.set_xlabel("share of pixels " + ("deleted" if column == 0 else "revealed"), fontsize=9)
        axis.set_ylabel("class probability (mean over images)", fontsize=9)
        axis.set_title(name, fontsize=10)
        axis.set_xlim(0, 1)
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    if title:
        figure.suptitle(title, fontsize=10)
    return _save_figure(figure, path, top=0.92 if title else 1.0)


def save_sanity_figure(steps: Sequence[str], spearman: dict, maps: dict, path: Path, title: str = "") -> Path:
    """Top: each method's rank correlation with its trained-model maps after each randomisation step, one
    curve per method; below, one row per method: one image's map, trained first, then after each step. PNG.

    Args:
        steps: The step names, top down.
        spearman: {method: [mean rank correlation per step]}.
        maps: {method: (steps + 1, h, w) one image's maps, the trained model's first}.
    """
    count, rows = len(steps), len(maps)
    figure = Figure(figsize=(max(8.0, 1.1 * (count + 1)), 3.6 + 1.25 * rows))
    grid = figure.add_gridspec(
        1 + rows, count + 2, height_ratios=(2.6, *[1] * rows), width_ratios=[1] * (count + 1) + [0.08]
    )
    curve = figure.add_subplot(grid[0, :-1])
    positions = np.arange(1, count + 1)
    for method, values in spearman.items():
        curve.plot(positions, values, "o-", label=method)
    curve.axhline(0, color="grey", linewidth=0.8)
    curve.set_xticks(positions, steps, rotation=45, ha="right", fontsize=8)
    curve.set_ylim(-1.05, 1.05)
    curve.set_ylabel("rank correlation with the trained maps", fontsize=9)
    curve.set_xlabel("re-initialised, cumulatively from the top", fontsize=9)
    curve.grid(alpha=0.3)
    curve.legend(fontsize=8)
    for row, (method, series) in enumerate(maps.items(), start=1):
        for index, heatmap in enumerate(series):
            axis = figure.add_subplot(grid[row, index])
            drawn = axis.imshow(heatmap, cmap="jet", vmin=0, vmax=1)
            if row == 1:
                axis.set_title("trained" if index == 0 else steps[index - 1], fontsize=7)
            if index == 0:
                axis.set_ylabel(method, fontsize=7)
            axis.set_xticks([])
            axis.set_yticks([])
    bar = figure.colorbar(drawn, cax=figure.add_subplot(grid[1:, -1]), ticks=[0, 1])
    bar.set_label("map / its peak", fontsize=7)
    bar.ax.tick_params(labelsize=7)
    if title:
        figure.suptitle(title, fontsize=10)
    return _save_figure(figure, path, top=0.94 if title else 1.0)


def save_cam_comparison(
    image: np.ndarray, maps: dict, suptitle: str, path: Path, geometry=None, input_size=None
) -> Path:
    """The input, then one overlay per method (``maps``: {name: (h, w) map in [0, 1]}), in rows of five. JPEG."""
    panels = 1 + len(maps)
    columns = min(5, panels)
    rows = -(-panels // columns)
    figure = Figure(figsize=(2.6 * columns + 0.6, 2.8 * rows))
    grid = figure.add_gridspec(rows, columns + 1, width_ratios=[1] * columns + [0.06])  # last: the colour bar
    axes = [figure.add_subplot(grid[row, column]) for row in range(rows) for column in range(columns)]
    axes[0].imshow(np.asarray(image, np.uint8))
    axes[0].set_title("input", fontsize=9)
    for axis, (name, heatmap) in zip(axes[1:], maps.items()):
        axis.imshow(overlay_heatmap(image, heatmap, geometry=geometry, input_size=input_size))
        axis.set_title(name, fontsize=9)
    for axis in axes:
        axis.axis("off")
    scale = ScalarMappable(Normalize(0, 1), "jet")  # every overlay's colours, one bar for the figure
    bar = figure.colorbar(scale, cax=figure.add_subplot(grid[:, -1]), ticks=[0, 0.5, 1])
    bar.set_label("each map / its own peak", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    figure.suptitle(suptitle, fontsize=10)
    return _save_figure(figure, path, dpi=80, top=0.9, pil_kwargs={"quality": 90})
