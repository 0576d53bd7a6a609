"""Writing array pictures as JPEG files (Pillow): activation grids with their index, filter grids."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ...settings import outputs
from .common import HEADER_HEIGHT, add_header, font
from .grids import activation_grid, dead_channels, tile_area, tile_factor


def save_jpeg(picture: np.ndarray, path: Path, quality: int = 90) -> Path:
    """Write an (h, w, 3) uint8 array as JPEG with Pillow."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(picture, np.uint8)).save(path, "JPEG", quality=quality)
    return path


def write_activation_grids(
    activations: dict[str, np.ndarray],
    image_index: int,
    out_dir: Path,
    images_per_row: int = 16,
    colormap: str = "viridis",
    workers: int = 2,
) -> list[Path]:
    """Grids of image ``image_index`` of a batch from ``layer_activations``, plus ``index.json``
    (for the report: layer, output shape, dead channels, the picture's size and where its tiles lie
    below the header band). Pictures are encoded on ``workers`` threads (Pillow releases the GIL)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def render(item):
        index, (name, activation) = item
        one = activation[image_index]  # (h, w, channels)
        dead = dead_channels(one)
        shape = "x".join(str(size) for size in one.shape)
        header = [f"{name}  ({shape})", f"{one.shape[-1]} channels, {dead} dead (constant, crossed)"]
        picture = activation_grid(one, images_per_row, colormap, header=header)
        path = save_jpeg(picture, out_dir / outputs.grid_file_name(index, name))
        tiles_height, tiles_width = tile_area(*one.shape, images_per_row)
        entry = {"file": path.name, "layer": name, "shape": list(one.shape), "dead": dead}
        factor = tile_factor(*one.shape[:2])
        entry |= {"picture": list(picture.shape[:2]), "tiles": [HEADER_HEIGHT, tiles_height, tiles_width]}
        entry["tile"] = [one.shape[0] * factor, one.shape[1] * factor]  # one channel's pixels in the picture
        return path, entry  # tiles: top, height, width of the tile area in the picture

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        rendered = list(pool.map(render, enumerate(activations.items())))
    (out_dir / outputs.GRID_INDEX).write_text(json.dumps([entry for _, entry in rendered], indent=1), encoding="utf-8")
    return [path for path, _ in rendered]


def save_filter_grid(
    patterns: np.ndarray,
    path: Path,
    columns: int = 8,
    margin: int = 5,
    title: str = "",
    numbers: Sequence[int] | None = None,
) -> Path:
    """Tile (n, s, s, 3) uint8 patterns into a grid with margins (8 per row), titled, as JPEG; each tile
    labelled in its top-left corner with its filter number (``numbers``, default 0..n-1)."""
    count, size = patterns.shape[0], patterns.shape[1]
    numbers = list(range(count)) if numbers is None else list(numbers)
    rows = -(-count // columns)
    canvas = np.full((rows * (size + margin) + margin, columns * (size + margin) + margin, 3), 255, np.uint8)
    corners = []
    for index in range(count):  # at most 64 tiles: a copy each, not a per-pixel loop
        row, column = divmod(index, columns)
        top, left = margin + row * (size + margin), margin + column * (size + margin)
        canvas[top : top + size, left : left + size] = patterns[index]
        corners.append((left, top))
    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    for (left, top), number in zip(corners, numbers):
        box = draw.textbbox((left + 2, top + 1), str(number), font=font(11))
        draw.rectangle((box[0] - 2, box[1] - 1, box[2] + 2, box[3] + 1), fill=(0, 0, 0))
        draw.text((left + 2, top + 1), str(number), fill=(255, 255, 255), font=font(11))
    canvas = np.asarray(picture)
    if title:
        canvas = add_header(canvas, [title], height=20)
    return save_jpeg(canvas, path)
