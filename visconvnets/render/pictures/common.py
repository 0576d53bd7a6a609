"""Shared pieces of every picture: colormap lookup tables and text bands."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont


def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table of a matplotlib colormap (``viridis``, ``plasma``, ``gray``...)."""
    if name not in colormaps:
        raise ValueError(f"unknown colormap {name!r}; try viridis, plasma, magma, inferno, gray or jet")
    return (colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


@functools.lru_cache(maxsize=4)
def font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


HEADER_HEIGHT = 34  # pixels of the text band above a picture

HEADER_MIN_WIDTH = 360  # a picture with a header is at least this wide, so the text fits


def header_band(
    lines: Sequence[str], width: int, height: int = HEADER_HEIGHT, background=(20, 20, 20), colour=(240, 240, 240)
) -> np.ndarray:
    """(height, width, 3) uint8: lines of light text on a dark band."""
    band = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(band)
    for row, text in enumerate(lines):
        draw.text((4, 2 + row * 15), text, fill=colour, font=font(12))
    return np.asarray(band)


def add_header(picture: np.ndarray, lines: Sequence[str], height: int = HEADER_HEIGHT) -> np.ndarray:
    """``picture`` (h, w, 3) uint8 with a text band above it, at least HEADER_MIN_WIDTH wide
    (the picture left-aligned, padded with white)."""
    width = max(picture.shape[1], HEADER_MIN_WIDTH)
    if picture.shape[1] < width:
        picture = np.pad(picture, ((0, 0), (0, width - picture.shape[1]), (0, 0)), constant_values=255)
    return np.concatenate((header_band(lines, width, height), picture), axis=0)


COLOUR_BAR_WIDTH = 12  # pixels of the colour ramp
COLOUR_BAR_LABELS = 22  # pixels beside it for the end labels


def colour_bar(height: int, colormap: str = "jet", low: str = "0", high: str = "1") -> np.ndarray:
    """(height, 34, 3) uint8: a vertical colour ramp (``high`` at the top) with its two end labels, on white."""
    ramp = colormap_lut(colormap)[np.linspace(255, 0, height).round().astype(int)]  # (height, 3), top = 255
    bar = Image.new("RGB", (COLOUR_BAR_WIDTH + COLOUR_BAR_LABELS, height), (255, 255, 255))
    bar.paste(Image.fromarray(np.repeat(ramp[:, None], COLOUR_BAR_WIDTH, axis=1)), (0, 0))
    draw = ImageDraw.Draw(bar)
    draw.text((COLOUR_BAR_WIDTH + 3, 0), high, fill=(0, 0, 0), font=font(11))
    draw.text((COLOUR_BAR_WIDTH + 3, max(0, height - 13)), low, fill=(0, 0, 0), font=font(11))
    return np.asarray(bar)
