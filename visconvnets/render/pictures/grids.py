"""Activation grids as arrays: every channel of one layer's output, standardised and tiled."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from .common import HEADER_HEIGHT, HEADER_MIN_WIDTH, colormap_lut, header_band

MINIMUM_TILE = 8  # pixels: smaller channels are repeated up to this in the file (the browser scales further)
DEAD_TILE_VALUE = 40  # grey level of a dead (constant) channel's tile, drawn with a red cross


def standardise_channels(activation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The blog's per-channel display scaling, vectorised and safe.

    Args:
        activation: (h, w, channels) float.

    Returns:
        (values, dead): values (channels, h, w) uint8 = clip(128 + 64 * (x - mean) / std); dead
        (channels,) bool marks constant channels (std 0), whose values are 0 (never NaN).
    """
    channels_first = np.moveaxis(np.asarray(activation, dtype=np.float32), -1, 0)  # (c, h, w)
    mean = channels_first.mean(axis=(1, 2), keepdims=True)
    std = channels_first.std(axis=(1, 2), keepdims=True)
    dead = channels_first.max(axis=(1, 2)) == channels_first.min(axis=(1, 2))
    scale = np.divide(64.0, std, out=np.zeros_like(std), where=~dead[:, None, None])  # dead: scale 0, no 0/0
    work = channels_first - mean  # the one float temporary; the rest is in place
    work *= scale
    work += 128.0
    np.clip(work, 0, 255, out=work)
    values = work.astype(np.uint8)
    values[dead] = 0
    return values, dead


# Palette entries after the colormap's 256: separators and blank tiles, dead tiles, the dead cross.
SEPARATOR_INDEX, DEAD_INDEX, CROSS_INDEX = 256, 257, 258


@functools.lru_cache(maxsize=16)
def _palette(name: str, separator_colour: tuple[int, int, int]) -> np.ndarray:
    lut = colormap_lut(name)
    extra = np.array([separator_colour, (DEAD_TILE_VALUE,) * 3, (220, 30, 30)], np.uint8)
    palette = np.concatenate([lut, extra])
    palette.flags.writeable = False
    return palette


def activation_grid(
    activation: np.ndarray,
    images_per_row: int = 16,
    colormap: str = "viridis",
    separator: int = 1,
    separator_colour: tuple[int, int, int] = (255, 255, 255),
    header: Sequence[str] | None = None,
    minimum_tile: int = MINIMUM_TILE,
) -> np.ndarray:
    """Tile ALL channels of one layer's output for one image into an RGB picture.

    The tiles are laid out as palette indices (one byte pair per pixel), then coloured with a single
    lookup: values through the colormap, separators, blanks, dead tiles and their crosses through
    extra palette entries.

    Args:
        activation: (h, w, channels) one image's layer output.
        images_per_row: Tiles per row; the last row is padded with blank tiles.
        colormap: Matplotlib colormap name (default viridis; the blog used plasma/viridis).
        separator: Pixels between tiles.
        header: Lines of text for a dark band above the tiles (the picture is then at least
            ``HEADER_MIN_WIDTH`` wide); None for no band.
        minimum_tile: Channels smaller than this are repeated (nearest neighbour, ``tile_factor``)
            until they are at least this many pixels, so JPEG does not smear one-pixel tiles.

    Returns:
        (rows*(h'+sep)-sep, per_row*(w'+sep)-sep, 3) uint8 (plus the band's rows), h' = h * factor;
        dead channels (see ``standardise_channels``) are flat dark-grey tiles with a red cross.
    """
    if activation.ndim != 3:
        raise ValueError(f"activation must be (height, width, channels), got shape {activation.shape}")
    if images_per_row < 1:
        raise ValueError(f"images_per_row must be at least 1, got {images_per_row}")
    values, dead = standardise_channels(activation)  # (c, h, w) uint8
    factor = tile_factor(*values.shape[1:], minimum_tile)
    values = values.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else values  # (c, h', w')
    channels, height, width = values.shape
    rows = -(-channels // images_per_row)
    indices = np.full((rows * images_per_row, height + separator, width + separator), SEPARATOR_INDEX, np.uint16)
    indices[:channels, :height, :width] = values
    if dead.any():
        _cross_out(indices[:channels], dead, height, width)
    grid = indices.reshape(rows, images_per_row, height + separator, width + separator).transpose(0, 2, 1, 3)
    grid = grid.reshape(rows * (height + separator), images_per_row * (width + separator))
    grid = grid[: grid.shape[0] - separator or None, : grid.shape[1] - separator or None]
    palette = _palette(colormap, tuple(separator_colour))
    if not header:
        return np.take(palette, grid, axis=0)
    width = max(grid.shape[1], HEADER_MIN_WIDTH)
    if grid.shape[1] < width:
        grid = np.pad(grid, ((0, 0), (0, width - grid.shape[1])), constant_values=SEPARATOR_INDEX)
    picture = np.empty((HEADER_HEIGHT + grid.shape[0], width, 3), np.uint8)  # one allocation for band and tiles
    picture[:HEADER_HEIGHT] = header_band(header, width)
    np.take(palette, np.ascontiguousarray(grid), axis=0, out=picture[HEADER_HEIGHT:])
    return picture


def _cross_out(indices: np.ndarray, dead: np.ndarray, height: int, width: int) -> None:
    """Draw every dead channel's tile of ``indices`` (channels, h + sep, w + sep) as a flat tile with a
    red cross, all at once, in place."""
    diagonal = np.arange(min(height, width))
    steps = max(1, min(height, width) - 1)
    down = (diagonal * (height - 1) / steps).round().astype(int)
    across = (diagonal * (width - 1) / steps).round().astype(int)
    dead_tiles = indices[dead]
    dead_tiles[:, :height, :width] = DEAD_INDEX
    dead_tiles[:, down, across] = CROSS_INDEX
    dead_tiles[:, height - 1 - down, across] = CROSS_INDEX
    indices[dead] = dead_tiles


def tile_factor(height: int, width: int, minimum_tile: int = MINIMUM_TILE) -> int:
    """How many times ``activation_grid`` repeats each pixel of an (height, width) channel."""
    return max(1, -(-minimum_tile // max(1, min(height, width))))


def tile_area(height: int, width: int, channels: int, images_per_row: int, separator: int = 1) -> tuple[int, int]:
    """(height, width) in pixels of the tiles of an ``activation_grid`` of an (height, width, channels)
    output with the default ``minimum_tile`` (below its header band)."""
    factor = tile_factor(height, width)
    rows = -(-channels // images_per_row)
    return rows * (height * factor + separator) - separator, images_per_row * (width * factor + separator) - separator


def dead_channels(activation: np.ndarray) -> int:
    """How many channels of one image's (h, w, channels) layer output are constant (std 0)."""
    flat = np.asarray(activation).reshape(-1, activation.shape[-1])
    return int((flat.max(axis=0) == flat.min(axis=0)).sum())
