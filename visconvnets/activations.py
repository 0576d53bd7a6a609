"""What every layer sees: layer outputs from one forward pass, tiled into pictures (arrays only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import layers as layer_tools
from .forward import forward

DEAD_TILE_VALUE = 40  # grey level of a dead (constant) channel's tile, before its red cross


def layer_activations(model, images, layer_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Outputs of the named layers for a batch of images, from ONE forward pass.

    Args:
        model: Flat or nesting a backbone.
        images: (batch, height, width, 3) in the model's input scale (raw 0-255 RGB for this project's models).
        layer_names: Names, globs or layer types (see ``layers.select_layers``); None means every
            Conv2D and Activation layer with a 4-D output.

    Returns:
        {name: (batch, h, w, channels) float32}, in depth order.
    """
    names = layer_tools.select_layers(model, layer_names)
    _, recorded = forward(model, np.asarray(images, dtype="float32"), taps=names, stop_after_taps=True)
    return {name: np.asarray(recorded[name]) for name in names}


def standardise_channels(activation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The blog's per-channel display scaling, vectorised and safe.

    Args:
        activation: (h, w, channels) float.

    Returns:
        (values, dead): values (channels, h, w) uint8 = clip(128 + 64 * (x - mean) / std); dead
        (channels,) bool marks constant channels (std 0), whose values are ``DEAD_TILE_VALUE``.
    """
    channels_first = np.moveaxis(np.asarray(activation, dtype=np.float32), -1, 0)  # (c, h, w)
    mean = channels_first.mean(axis=(1, 2), keepdims=True)
    std = channels_first.std(axis=(1, 2), keepdims=True)
    dead = (channels_first.max(axis=(1, 2)) == channels_first.min(axis=(1, 2)))
    safe_std = np.where(dead[:, None, None], 1.0, std)
    values = np.clip(128.0 + 64.0 * (channels_first - mean) / safe_std, 0, 255).astype(np.uint8)
    values[dead] = DEAD_TILE_VALUE
    return values, dead


def colormap_lut(name: str) -> np.ndarray:
    """(256, 3) uint8 lookup table of a matplotlib colormap (``viridis``, ``plasma``, ``gray``...)."""
    from matplotlib import colormaps

    if name not in colormaps:
        raise ValueError(f"unknown colormap {name!r}; try viridis, plasma, magma, inferno, gray or jet")
    return (colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def activation_grid(
    activation: np.ndarray,
    images_per_row: int = 16,
    colormap: str = "viridis",
    separator: int = 1,
    separator_colour: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Tile ALL channels of one layer's output for one image into an RGB picture.

    Args:
        activation: (h, w, channels) one image's layer output.
        images_per_row: Tiles per row; the last row is padded with blank tiles.
        colormap: Matplotlib colormap name (default viridis; the blog used plasma/viridis).
        separator: Pixels between tiles.

    Returns:
        (rows*(h+sep)-sep, per_row*(w+sep)-sep, 3) uint8; dead channels (see ``dead_channels``) are
        flat dark tiles with a red cross.
    """
    if activation.ndim != 3:
        raise ValueError(f"activation must be (height, width, channels), got shape {activation.shape}")
    if images_per_row < 1:
        raise ValueError(f"images_per_row must be at least 1, got {images_per_row}")
    values, dead = standardise_channels(activation)  # (c, h, w)
    tiles = colormap_lut(colormap)[values]  # (c, h, w, 3)
    channels, height, width = values.shape
    if dead.any():  # red cross on dead tiles, all at once
        diagonal = np.arange(min(height, width))
        rows_down = (diagonal * (height - 1) / max(1, min(height, width) - 1)).round().astype(int)
        columns = (diagonal * (width - 1) / max(1, min(height, width) - 1)).round().astype(int)
        dead_tiles = tiles[dead]
        dead_tiles[:, rows_down, columns] = (220, 30, 30)
        dead_tiles[:, height - 1 - rows_down, columns] = (220, 30, 30)
        tiles[dead] = dead_tiles
    rows = -(-channels // images_per_row)
    padded = np.empty((rows * images_per_row, height + separator, width + separator, 3), np.uint8)
    padded[...] = separator_colour
    padded[channels:, :height, :width] = 255  # blank tiles after the last channel
    padded[:channels, :height, :width] = tiles
    grid = padded.reshape(rows, images_per_row, height + separator, width + separator, 3).transpose(0, 2, 1, 3, 4)
    grid = grid.reshape(rows * (height + separator), images_per_row * (width + separator), 3)
    return grid[: grid.shape[0] - separator or None, : grid.shape[1] - separator or None]


def dead_channels(activation: np.ndarray) -> int:
    """How many channels of one image's (h, w, channels) layer output are constant (std 0)."""
    flat = np.asarray(activation).reshape(-1, activation.shape[-1])
    return int((flat.max(axis=0) == flat.min(axis=0)).sum())
