"""Writing array pictures as JPEG files (Pillow): activation grids with their index."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ...settings import outputs
from .common import HEADER_HEIGHT
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
