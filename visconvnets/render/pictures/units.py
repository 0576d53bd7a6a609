"""Units and concepts as sheets: each filter's pattern beside the real crops that excite it most, with the
pattern's percentile among real images; each concept of a class beside its crops and its map over one image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .common import add_header, font
from .files import save_jpeg
from .overlays import overlay_heatmap

LABEL_HEIGHT = 16  # pixels of the text line above each block
GAP = 4  # pixels between a pattern and its crops, and between crops
MARGIN = 10  # pixels between blocks
BLANK_GREY = 200  # a pattern that leaves its unit at 0 is drawn as this plain grey, not as a picture


def _resized(picture: np.ndarray, side: int) -> np.ndarray:
    return np.asarray(Image.fromarray(np.asarray(picture, np.uint8)).resize((side, side), Image.BILINEAR))


def _crop_block(crops: np.ndarray, side: int) -> np.ndarray:
    """(side, side, 3) uint8: up to 9 crops (k, c, c, 3) tiled 3 x 3 (white where there are fewer)."""
    tile = (side - 2 * GAP) // 3
    block = np.full((side, side, 3), 255, np.uint8)
    for index, crop in enumerate(crops[:9]):
        row, column = divmod(index, 3)
        top, left = row * (tile + GAP), column * (tile + GAP)
        block[top : top + tile, left : left + tile] = _resized(crop, tile)
    return block


def _sheet(blocks: Sequence[np.ndarray], labels: Sequence[str], columns: int) -> np.ndarray:
    """Blocks of one size, labelled above, ``columns`` per row, on white."""
    height, width = blocks[0].shape[:2]
    rows = -(-len(blocks) // columns)
    cell_height, cell_width = LABEL_HEIGHT + height + MARGIN, width + MARGIN
    canvas = Image.new("RGB", (columns * cell_width + MARGIN, rows * cell_height + MARGIN), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for index, (block, label) in enumerate(zip(blocks, labels)):
        row, column = divmod(index, columns)
        left, top = MARGIN + column * cell_width, MARGIN + row * cell_height
        draw.text((left, top), label, fill=(0, 0, 0), font=font(11))
        canvas.paste(Image.fromarray(block), (left, top + LABEL_HEIGHT))
    return np.asarray(canvas)


def save_unit_sheet(
    patterns: np.ndarray,
    numbers: Sequence[int],
    path: Path,
    title: str,
    percentiles: Sequence[float] | None = None,
    crops: np.ndarray | None = None,
    columns: int = 4,
    blank: Sequence[bool] | None = None,
) -> Path:
    """One block per filter, ``filter N · Pth pct`` above it: its pattern, and with ``crops`` its top crops
    3 x 3 beside it.

    Args:
        patterns: (n, S, S, 3) uint8.
        numbers: (n,) the filters' numbers.
        percentiles: (n,) each pattern's percentile among real images, or None.
        crops: (n, k, c, c, 3) uint8 receptive-field crops, most exciting first, or None.
        blank: (n,) patterns that leave their unit at 0: drawn as a plain grey square labelled so, never as a
            picture of what the unit wants (``UnitPictures.blank``).
    """
    side = patterns.shape[1]
    blank = np.zeros(len(patterns), bool) if blank is None else np.asarray(blank, bool)
    blocks = []
    for index, pattern in enumerate(patterns):
        pattern = np.full_like(pattern, BLANK_GREY) if blank[index] else pattern
        block = (
            pattern
            if crops is None
            else np.concatenate(
                [pattern, np.full((side, GAP, 3), 255, np.uint8), _crop_block(crops[index], side)], axis=1
            )
        )
        blocks.append(np.asarray(block, np.uint8))
    labels = [
        f"filter {number} · no pattern: stays at 0"
        if blank[index]
        else f"filter {number}" + ("" if percentiles is None else f" · {percentiles[index]:.1f}th pct")
        for index, number in enumerate(numbers)
    ]
    return save_jpeg(
        add_header(_sheet(blocks, labels, columns if crops is not None else 2 * columns), [title], 20), path
    )


def save_pattern_rows(
    rows: Sequence[tuple[str, np.ndarray, Sequence[int], Sequence[float]]], path: Path, title: str
) -> Path:
    """One row per way of drawing the same filters: its name above, then its patterns, each labelled with its
    filter number and percentile.

    Args:
        rows: (name, (n, S, S, 3) uint8 patterns, (n,) filter numbers, (n,) percentiles) per row.
    """
    sheets = []
    for name, patterns, numbers, percentiles in rows:
        labels = [f"{number} · {percentile:.1f}th" for number, percentile in zip(numbers, percentiles)]
        sheets.append(add_header(_sheet(list(patterns), labels, len(patterns)), [name], 20))
    width = max(sheet.shape[1] for sheet in sheets)
    padded = [np.pad(sheet, ((0, 0), (0, width - sheet.shape[1]), (0, 0)), constant_values=255) for sheet in sheets]
    return save_jpeg(add_header(np.concatenate(padded), [title], 20), path)


def save_concept_sheet(
    crops: np.ndarray,
    overlays: Sequence[np.ndarray],
    labels: Sequence[str],
    path: Path,
    title: str,
    crop_side: int = 64,
) -> Path:
    """One row per concept, most important first: its label, its top crops, then its map over one image.

    Args:
        crops: (k, t, S, S, 3) uint8 each concept's top crops.
        overlays: k (H, W, 3) uint8 pictures (``concept_overlay``), drawn as tall as two rows of crops.
        labels: k texts, one per concept.
    """
    map_side = 2 * crop_side + GAP  # the map is as tall as two rows of crops
    blocks = []
    for concept_crops, overlay in zip(crops, overlays):
        per_row = -(-len(concept_crops) // 2)
        tiles = np.full((map_side, per_row * (crop_side + GAP), 3), 255, np.uint8)
        for index, crop in enumerate(concept_crops):
            row, place = divmod(index, per_row)
            top, left = row * (crop_side + GAP), place * (crop_side + GAP)
            tiles[top : top + crop_side, left : left + crop_side] = _resized(crop, crop_side)
        blocks.append(np.concatenate([tiles, _resized(overlay, map_side)], axis=1))
    return save_jpeg(add_header(_sheet(blocks, labels, 1), [title], 20), path)


def concept_overlay(image: np.ndarray, heatmap: np.ndarray, geometry, input_size: int) -> np.ndarray:
    """(H, W, 3) uint8: one concept's (h, w) map, scaled to its peak, over the image at its receptive-field
    centres."""
    peak = float(np.max(heatmap))
    scaled = heatmap / peak if peak > 0 else np.zeros_like(heatmap)
    return overlay_heatmap(image, scaled, alpha=0.5, geometry=geometry, input_size=input_size)
