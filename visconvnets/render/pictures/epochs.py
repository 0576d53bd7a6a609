"""Training, epoch by epoch: a panel per probe image and epoch, then a strip and a GIF of all epochs.

Built with NumPy and Pillow (no matplotlib): the panels are written inside training, where every
tenth of a second counts against the epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .common import add_header, colour_bar, header_band
from .files import save_jpeg
from .overlays import overlay_heatmap

STRIP_COLUMNS = 10  # frames per row of a strip; longer trainings wrap
LABEL_HEIGHT = 18  # pixels of the label band under each strip frame
GAP = 4  # white pixels between pictures


def _side_by_side(pictures: Sequence[np.ndarray]) -> np.ndarray:
    height = pictures[0].shape[0]
    gap = np.full((height, GAP, 3), 255, np.uint8)
    parts = [part for picture in pictures for part in (picture, gap)][:-1]
    return np.concatenate(parts, axis=1)


def epoch_panel(image, true_map, predicted_map, lines: Sequence[str], geometry=None, input_size=None) -> np.ndarray:
    """The true class's map beside the predicted class's, over the image, then their colour scale,
    under a text band.

    Args:
        image: (H, W, 3) RGB in [0, 255].
        true_map, predicted_map: (h, w) maps in [0, 1].
        lines: Up to two lines of text (epoch, classes, probability).

    Returns:
        (34 + H, 2W + 8 + 34, 3) uint8 (at least 360 wide).
    """
    overlays = [
        overlay_heatmap(image, heatmap, geometry=geometry, input_size=input_size)
        for heatmap in (true_map, predicted_map)
    ]
    return add_header(_side_by_side([*overlays, colour_bar(overlays[0].shape[0])]), lines)


def save_epoch_panel(path: Path, *arguments, **options) -> Path:
    """``epoch_panel(*arguments, **options)`` written as a JPEG at ``path``."""
    return save_jpeg(epoch_panel(*arguments, **options), path)


def labelled_frames(image, maps: np.ndarray, labels: Sequence[str], geometry=None, input_size=None) -> list[np.ndarray]:
    """One overlay per epoch with its label in a band underneath: (H + 18, W, 3) uint8 each.

    Args:
        maps: (epochs, h, w) in [0, 1]; labels: one short text per epoch.
    """
    frames = []
    for heatmap, label in zip(maps, labels):
        overlay = overlay_heatmap(image, heatmap, geometry=geometry, input_size=input_size)
        frames.append(np.concatenate((overlay, header_band([label], overlay.shape[1], LABEL_HEIGHT)), axis=0))
    return frames


def save_epoch_strip(frames: Sequence[np.ndarray], path: Path, title: str) -> Path:
    """Frames left to right, ``STRIP_COLUMNS`` a row, under a title band. JPEG."""
    blank = np.full_like(frames[0], 255)
    rows = []
    for start in range(0, len(frames), STRIP_COLUMNS):
        row = list(frames[start : start + STRIP_COLUMNS])
        if rows:  # later rows padded to the first row's width
            row += [blank] * (STRIP_COLUMNS - len(row))
        rows.append(_side_by_side(row))
    gap = np.full((GAP, rows[0].shape[1], 3), 255, np.uint8)
    stacked = np.concatenate([part for row in rows for part in (row, gap)][:-1], axis=0)
    return save_jpeg(add_header(stacked, [title]), path)


def save_epoch_gif(frames: Sequence[np.ndarray], path: Path, frame_ms: int = 700) -> Path:
    """The frames as a looping animated GIF, the last frame held three times as long."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures = [Image.fromarray(np.asarray(frame, np.uint8)) for frame in frames]
    durations = [frame_ms] * (len(pictures) - 1) + [3 * frame_ms]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return path
