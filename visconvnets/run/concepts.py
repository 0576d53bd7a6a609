"""What each class is recognised by: CRAFT-style concepts (``explain.concepts``) of every class's test images at
one layer, drawn ranked by importance (crops, a map) to OUT/concepts/<class>.jpg with ``index.json``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.images import load_images, load_original
from ..explain.concepts import concepts
from ..models.geometry import receptive_field
from ..render import pictures
from ..settings import outputs
from ..settings.config import VisualizationConfig

TOP_CROPS = 6  # crops drawn per concept (two rows of three)


def write_concept_pictures(
    model,
    classes: list[str],
    test_paths: Sequence[Path],
    test_labels: Sequence[int],
    image_size: int,
    layer: str,
    layout: outputs.RunLayout,
    config: VisualizationConfig,
    progress: bool = True,
) -> list[Path]:
    """Every class with test images: its ``config.concept_count`` concepts at ``layer`` from its first
    ``config.concept_images`` test images, ranked by importance for the class; each row its top crops and its
    map over the image that holds most of it. ``concepts/index.json`` holds the numbers."""
    labels = np.asarray(test_labels, int)
    geometry, written, entries = receptive_field(model, layer), [], []
    for class_index, name in enumerate(tqdm(classes, desc="concepts", disable=not progress)):
        paths = [Path(test_paths[i]) for i in np.flatnonzero(labels == class_index)[: config.concept_images]]
        if not paths:
            continue
        images = load_images(paths, image_size)
        count = min(config.concept_count, len(paths) * config.concept_crops)
        found = concepts(model, images, layer, class_index, count, config.concept_crops, seed=config.seed)
        strongest = found.maps.sum(axis=(1, 2)).argmax(axis=0)  # (k,) the image holding most of each concept
        originals = {image: load_original(paths[image]) for image in set(strongest.tolist())}  # often repeated
        overlays = [
            pictures.concept_overlay(originals[image], found.maps[image, ..., concept], geometry, image_size)
            for concept, image in enumerate(strongest)
        ]
        top = found.top_crops(TOP_CROPS)  # (k, TOP_CROPS)
        crops = np.clip(np.round(found.crops[top]), 0, 255).astype(np.uint8)  # (k, TOP_CROPS, S, S, 3)
        total = float(np.abs(found.importances).sum()) or 1.0
        shares = [round(100 * value / total) for value in found.importances]  # percent, signed
        labels_drawn = [
            f"#{rank + 1} importance {value:+.2g} ({share}%): top crops, its map"
            for rank, (value, share) in enumerate(zip(found.importances, shares))
        ]
        title = f"{name}: {count} concepts at {layer}, most important first"
        written.append(pictures.save_concept_sheet(crops, overlays, labels_drawn, layout.concept_sheet(name), title))
        entries.append(
            {
                "class": name,
                "file": written[-1].name,
                "images": len(paths),
                "importances": [round(float(value), 6) for value in found.importances],
                "shares": shares,  # percent of the importances' absolute sum, as the sheet labels them
                "reconstruction_error": round(found.reconstruction, 4),
                "nmf_iterations": found.iterations,
                "nmf_converged": found.converged,
                "map_images": [paths[image].name for image in strongest],
            }
        )
    index = {"layer": layer, "importance": "gradient x concept", "classes": entries}
    outputs.write_json(layout / outputs.CONCEPTS / outputs.GRID_INDEX, index)
    return written
