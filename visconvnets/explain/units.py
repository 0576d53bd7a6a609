"""What a unit wants, scored against what it gets: every layer's filter patterns (``filters.ascend``), their
values, and one streamed pass over real images (``dataset_examples.scan_units``) for all layers at once, giving
each pattern's percentile among the images and each unit's most exciting crops. Arrays only."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from ..settings.config import PICTURE_BATCH_SIZE
from ..settings.stages import AscentSettings
from .dataset_examples import EXAMPLES, UnitExamples, crop_examples, scan_units
from .filters import ascend, filter_activations, to_display


@dataclasses.dataclass
class UnitPictures:
    """One layer's units: patterns, how strongly they drive their unit beside real images, and those images.

    Attributes:
        layer: The layer.
        filters: (n,) the filters drawn.
        patterns: (n, size, size, 3) uint8, each contrast-stretched for display.
        pattern_values: (n,) each unit's value on its own pattern (as the ascent valued it).
        percentiles: (n,) the percentage of the images valued below the pattern; None without images.
        examples: The pass's top images per unit (``UnitExamples``); None without images.
        crops: (n, k, crop, crop, 3) uint8 each example's receptive-field crop; None without images.
    """

    layer: str
    filters: np.ndarray
    patterns: np.ndarray
    pattern_values: np.ndarray
    percentiles: np.ndarray | None = None
    examples: UnitExamples | None = None
    crops: np.ndarray | None = None

    @property
    def blank(self) -> np.ndarray:
        """(n,) bool: patterns that leave their unit at exactly 0 (a ReLU that never fired on them, whatever the
        ascent did): no picture of what the unit wants, and drawn and reported as such."""
        return np.asarray(self.pattern_values) == 0.0


def describe_units(
    model,
    filters: Mapping[str, Sequence[int]],
    images=None,
    size: int = 150,
    settings: AscentSettings | None = None,
    seed: int = 0,
    examples: int = EXAMPLES,
    crop_size: int = 48,
    batch: int = PICTURE_BATCH_SIZE,
) -> dict[str, UnitPictures]:
    """Patterns of every layer's ``filters``, scored and shown beside real images.

    Args:
        model: Flat or nesting a backbone; raw 0-255 RGB input for this project's models.
        filters: {layer name: filter indices}.
        images: None, or (m, S, S, 3) images in the model's input scale: a NumPy array, or anything with
            ``len()`` whose ``[slice]`` and ``[list of positions]`` give such arrays (``data.images.ImageFiles``
            reads files a batch at a time), passed over once for every layer.
        size: Pattern side in pixels.
        settings: The ascent (``AscentSettings``: parameterization, objective, steps...).
        seed: Seeds the ascent.
        examples: Crops kept per unit (0: percentiles only).
        crop_size: Side of each crop as drawn.
        batch: Images per pass.

    Returns:
        {layer name: ``UnitPictures``}, in the order of ``filters``.
    """
    settings = settings or AscentSettings()
    found = unit_patterns(model, filters, size, settings, seed)
    if images is not None and len(images):
        add_examples(model, found, images, settings, examples, crop_size, batch)
    return found


def unit_patterns(
    model, filters: Mapping[str, Sequence[int]], size: int, settings: AscentSettings, seed: int = 0
) -> dict[str, UnitPictures]:
    """Every layer's patterns and their values, no images (``describe_units``' first half)."""
    found = {}
    for layer_name, indices in filters.items():
        optimised = ascend(model, layer_name, indices, size, settings, seed)  # (n, size, size, 3), input scale
        values = filter_activations(model, layer_name, optimised, indices, settings.border, settings.objective)
        found[layer_name] = UnitPictures(layer_name, np.asarray(indices), to_display(optimised), values)
    return found


def add_examples(
    model,
    found: Mapping[str, UnitPictures],
    images,
    settings: AscentSettings,
    examples: int = EXAMPLES,
    crop_size: int = 48,
    batch: int = PICTURE_BATCH_SIZE,
) -> None:
    """``describe_units``' second half: one pass over ``images`` for every layer of ``found`` fills in the
    percentiles and, with ``examples`` > 0, the examples and their crops (in place)."""
    batches = (images[start : start + batch] for start in range(0, len(images), batch))
    filters = {name: units.filters for name, units in found.items()}
    wanted = {name: units.pattern_values for name, units in found.items()}
    scanned = scan_units(model, filters, batches, max(examples, 1), wanted, settings.border, settings.objective)
    for layer_name, units in found.items():
        units.percentiles = scanned[layer_name].percentiles
    if not examples:
        return
    # the images any layer's units chose, read once for every layer (files are decoded again here)
    numbers = sorted({int(number) for layer in scanned.values() for number in layer.images.reshape(-1)})
    chosen = np.asarray(images[numbers], np.float32)
    for layer_name, units in found.items():
        units.examples = scanned[layer_name]
        units.crops = crop_examples(units.examples, chosen, numbers, crop_size)
