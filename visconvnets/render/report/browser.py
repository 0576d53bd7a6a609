"""The activation section: a layer browser (one grid at a time, a slider and previous/next keys over
the layers in depth order, one image or every image at the same layer), inline script, no network.
The markup is ``templates/activations.html.j2``, the behaviour ``templates/browser.js``."""

from __future__ import annotations

import json
from pathlib import Path

from markupsafe import Markup

from ...settings import outputs

MINIMUM_TILE_PIXELS = 48  # every channel at least this wide on screen (nearest-neighbour upscaling)


def _browser_data(out_dir: Path, folders: list[Path]) -> dict:
    """The grids of every image folder, layers in depth order (the first image's index.json); a layer
    missing from any image, or written by an older version (no tile area recorded), is left out."""
    indexes = [
        {item["layer"]: item for item in json.loads((folder / outputs.GRID_INDEX).read_text(encoding="utf-8"))}
        for folder in folders
    ]
    names = [name for name, item in indexes[0].items() if all("tile" in index.get(name, {}) for index in indexes)]
    layers = [
        {key: indexes[0][name][key] for key in ("shape", "picture", "tiles", "tile")}
        | {"name": name, "dead": [index[name]["dead"] for index in indexes]}
        for name in names
    ]
    images = [
        {
            "name": folder.name,
            "files": [(folder / index[name]["file"]).relative_to(out_dir).as_posix() for name in names],
        }
        for folder, index in zip(folders, indexes)
    ]
    return {"images": images, "layers": layers, "minimum_tile": MINIMUM_TILE_PIXELS}


def activation_section(out_dir: Path) -> dict:
    """The layer browser's values over ``OUT/activations/<image>/`` (its script: ``templates/browser.js``):
    {found, data, payload, minimum_tile}."""
    root = out_dir / outputs.ACTIVATIONS
    folders = sorted(path for path in root.iterdir() if (path / outputs.GRID_INDEX).is_file()) if root.exists() else []
    data = _browser_data(out_dir, folders) if folders else {"images": [], "layers": []}
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")  # JSON that cannot close its script
    return {"found": bool(folders), "data": data, "payload": Markup(payload), "minimum_tile": MINIMUM_TILE_PIXELS}
