"""What the run's units want and what excites them: filter patterns scored against the test images and drawn
beside their dataset examples (``explain.units``), written to OUT/filters/ with ``index.json``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.images import ImageFiles
from ..explain.units import add_examples, unit_patterns
from ..models.layers import find_layer
from ..models.saved import as_seen_by
from ..render import pictures
from ..settings import outputs
from ..settings.config import VisualizationConfig
from .timing import stage

CROP_SIZE = 48  # pixels of each dataset example's crop as drawn (3 x 3 of them beside a 150-px pattern)


def write_unit_pictures(
    model,
    layer_names: Sequence[str],
    layout: outputs.RunLayout,
    config: VisualizationConfig,
    examples_from: Sequence[Path] = (),
    image_size: int | None = None,
    clock=None,
    progress: bool = False,
) -> dict[str, Path]:
    """One sheet per layer of ``layer_names`` (its first ``config.filter_count`` filters): each pattern with its
    percentile among the ``examples_from`` images (the test split) and, with ``config.filter_examples``, the
    crops of them that excite it most; ``filters/index.json`` holds the numbers. {layer name: file}.

    Args:
        examples_from: Image files scored against and cropped (none: the patterns alone).
        image_size: The model's input side, which those images are read at.
        clock: A ``timing.Stopwatch`` for the stages "filter patterns" and "dataset examples".
        progress: A progress bar over the layers' ascents, and a line before the pass.
    """
    if not layer_names:
        return {}
    channels = {name: int(find_layer(model, name).output.shape[-1]) for name in layer_names}
    filters = {name: list(range(min(config.filter_count, channels[name]))) for name in layer_names}
    settings = config.ascent_settings()
    found = {}
    with stage(clock, "filter patterns"):
        for name in tqdm(layer_names, desc="filter patterns", disable=not progress):
            found |= unit_patterns(model, {name: filters[name]}, config.filter_size, settings, config.seed)
    images = ImageFiles(examples_from, image_size) if len(examples_from) and image_size else None
    if images is not None:
        if progress:
            print(f"dataset examples: one pass over {len(images)} test images for {len(found)} layers")
        with stage(clock, "dataset examples"):
            add_examples(model, found, images, settings, config.filter_examples, CROP_SIZE)
    written, entries = {}, []
    for name, units in found.items():
        beside = (
            f", each beside the {config.filter_examples} test crops that excite it most"
            if units.crops is not None
            else ""
        )
        title = f"{name}: filters 0-{len(units.filters) - 1} ({channels[name]} in all), {settings.parameterization}"
        title += f" patterns{beside}"
        crops = None if units.crops is None else as_seen_by(model, units.crops)  # a grey model's in grey
        patterns = as_seen_by(model, units.patterns)
        written[name] = pictures.save_unit_sheet(
            patterns, units.filters, layout.filter_grid(name), title, units.percentiles, crops, blank=units.blank
        )
        entries.append(_entry(name, units, written[name], images))
    index = {
        "parameterization": settings.parameterization,
        "objective": settings.objective,
        "images_scanned": len(images) if images is not None else 0,
        "layers": entries,
    }
    outputs.write_json(layout / outputs.FILTERS / outputs.GRID_INDEX, index)
    return written


def _entry(name: str, units, path: Path, images: ImageFiles | None) -> dict:
    """One layer's line of ``filters/index.json``: every filter's pattern value, percentile and examples."""
    entry = {"layer": name, "file": path.name, "filters": [int(number) for number in units.filters]}
    entry["pattern_values"] = [round(float(value), 6) for value in units.pattern_values]
    entry["blank"] = [int(number) for number in units.filters[units.blank]]  # patterns that leave the unit at 0
    if units.percentiles is not None:
        entry["percentiles"] = [round(float(value), 2) for value in units.percentiles]
        entry["at_99th"] = float(np.mean(units.percentiles >= 99.0))  # the share of patterns a unit wants most
    if units.examples is not None:
        found = units.examples
        entry["examples"] = [
            [
                {
                    "image": images.paths[int(number)].as_posix(),
                    "box": [int(side) for side in box],
                    "value": float(value),
                }
                for number, box, value in zip(found.images[unit], found.boxes[unit], found.values[unit])
            ]
            for unit in range(len(found.filters))
        ]
    return entry
