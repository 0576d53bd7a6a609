"""The report's filter-pattern and concept sections, from ``filters/index.json`` and ``concepts/index.json``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...settings import outputs
from .markup import picture


def _drawn(out_dir: Path, folder: str, key: str) -> tuple[dict, list[tuple[dict, Path]]]:
    """(``OUT/folder/index.json``, its ``key`` entries whose picture exists, with that picture's path)."""
    index = outputs.read_json(out_dir / folder / outputs.GRID_INDEX)
    entries = [(entry, out_dir / folder / entry["file"]) for entry in index.get(key, [])]
    return index, [(entry, path) for entry, path in entries if path.exists()]


def filters_section(out_dir: Path) -> dict | None:
    """Every layer's sheet with a caption of its patterns' percentiles; None when no pattern was drawn."""
    index, drawn = _drawn(out_dir, outputs.FILTERS, "layers")
    if not drawn:
        return None
    layers = []
    for entry, path in drawn:
        caption = f"{entry['layer']}: {len(entry['filters'])} filters"
        if "percentiles" in entry:
            percentiles = np.asarray(entry["percentiles"])
            caption += (
                f"; {100 * entry['at_99th']:.0f}% of the patterns drive their unit past the 99th percentile of the "
                f"test images (median pattern at the {np.median(percentiles):.1f}th)"
            )
        if entry.get("blank"):
            caption += f"; {len(entry['blank'])} leave their unit at 0 (no pattern: grey squares)"
        layers.append({"picture": picture(out_dir, path, entry["layer"]), "caption": caption})
    return {
        "parameterization": index.get("parameterization", "?"),
        "objective": index.get("objective", "?"),
        "images": index.get("images_scanned", 0),
        "layers": layers,
    }


def concepts_section(out_dir: Path) -> dict | None:
    """One entry per class: its sheet and its concepts' importances; None when no concept was found."""
    index, drawn = _drawn(out_dir, outputs.CONCEPTS, "classes")
    if not drawn:
        return None
    classes = []
    for entry, path in drawn:
        concepts = zip(entry["importances"], entry["shares"], entry["map_images"])
        rows = [[rank + 1, f"{value:+.3g}", f"{share}%", image] for rank, (value, share, image) in enumerate(concepts)]
        classes.append(
            {
                "name": entry["class"],
                "picture": picture(out_dir, path, f"concepts of {entry['class']}"),
                "images": entry["images"],
                "error": entry["reconstruction_error"],
                "rows": rows,
            }
        )
    return {"layer": index.get("layer", "?"), "classes": classes}
