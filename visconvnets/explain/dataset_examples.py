"""The real images that excite a unit most, beside its pattern: one streamed pass over a set of images for
every visualised filter of every layer, keeping a running top-k (memory flat in the number of images), and
counting how many images drive each unit less than its pattern does (the pattern's percentile).

A unit's value on an image is its maximal cell (``examples``: the crop is that cell's receptive field, from
``models.geometry``) and, for the percentile, the value the ascent maximised (``filters.unit_values``: the
map's mean less a border, or the centre cell), so a pattern is compared with photos on its own objective.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from ..models.geometry import field_boxes, field_geometry
from .activations import traced_layer_outputs
from .filters import filter_activations, unit_values

EXAMPLES = 9  # crops per unit (a 3 x 3 block beside its pattern)


class RunningTopK:
    """The ``count`` largest values seen so far for each of ``units`` units, with what came with each value
    (an integer row: image number, cell row, cell column), as arrays. Ties keep the value seen first, so the
    result equals a stable full sort of every value in the order they came."""

    def __init__(self, units: int, count: int, payload: int = 3):
        if count < 1:
            raise ValueError(f"the top-k needs count >= 1, got {count}")
        self.count = count
        self.values = np.full((units, 0), -np.inf, np.float32)  # (units, kept), largest first
        self.payload = np.zeros((units, 0, payload), np.int64)  # (units, kept, payload)

    def update(self, values: np.ndarray, payload: np.ndarray) -> None:
        """Merge one batch: ``values`` (b, units) and ``payload`` (b, units, p)."""
        merged = np.concatenate([self.values, np.asarray(values, np.float32).T], axis=1)  # (units, kept + b)
        carried = np.concatenate([self.payload, np.swapaxes(np.asarray(payload, np.int64), 0, 1)], axis=1)
        order = np.argsort(-merged, axis=1, kind="stable")[:, : self.count]  # earlier entries first among ties
        self.values = np.take_along_axis(merged, order, axis=1)
        self.payload = np.take_along_axis(carried, order[..., None], axis=1)


@dataclasses.dataclass
class UnitExamples:
    """What a pass over real images found for one layer's units.

    Attributes:
        layer: The layer.
        filters: (n,) the filters (output channels) scanned.
        values: (n, k) each unit's k largest maximal-cell values, largest first.
        images: (n, k) the image (its position in the scanned set) of each.
        cells: (n, k, 2) the (row, column) of that maximal cell.
        boxes: (n, k, 4) its receptive field on the input, (top, left, bottom, right) in model-input pixels.
        below: (n,) how many images the unit valued below its pattern (None without patterns).
        seen: How many images were scanned.
    """

    layer: str
    filters: np.ndarray
    values: np.ndarray
    images: np.ndarray
    cells: np.ndarray
    boxes: np.ndarray
    below: np.ndarray | None
    seen: int

    @property
    def percentiles(self) -> np.ndarray | None:
        """(n,) the percentage of scanned images on which each unit is below its pattern (None without one)."""
        return None if self.below is None else 100.0 * self.below / max(self.seen, 1)


def scan_units(
    model,
    filters: Mapping[str, Sequence[int]],
    batches: Iterable[np.ndarray],
    count: int = EXAMPLES,
    pattern_values: Mapping[str, np.ndarray] | None = None,
    border: float = 0.0,
    objective: str = "channel",
) -> dict[str, UnitExamples]:
    """Every layer's top-``count`` images for each of its ``filters``, from one pass over ``batches``.

    Args:
        model: Flat or nesting a backbone.
        filters: {layer name: filter indices}, every layer read in the same pass.
        batches: (b, S, S, 3) image batches in the model's input scale, streamed (never held together).
        count: Examples kept per unit.
        pattern_values: {layer: (n,)} each unit's value on its pattern (``filters.filter_activations``, with
            the same ``border`` and ``objective``); the images valued below it are counted.
        border, objective: How the ascent valued a unit (``filters.unit_values``).

    Returns:
        {layer name: ``UnitExamples``}, boxes at the batches' side.
    """
    names = tuple(filters)
    scan = traced_layer_outputs(model, names)
    chosen = {name: tf.constant([int(index) for index in filters[name]], tf.int32) for name in names}
    tops = {name: RunningTopK(len(filters[name]), count) for name in names}
    below = {name: np.zeros(len(filters[name]), np.int64) for name in names}
    seen, side = 0, None
    for batch in batches:
        batch = np.asarray(batch, np.float32)
        side = batch.shape[1]
        recorded = scan(tf.constant(batch))
        for name in names:
            activation = tf.gather(recorded[name], chosen[name], axis=-1)  # (b, h, w, n)
            width = int(activation.shape[2])
            flat = tf.reshape(activation, (len(batch), -1, len(filters[name])))  # (b, h * w, n)
            values, where = tf.reduce_max(flat, axis=1).numpy(), tf.argmax(flat, axis=1).numpy()  # (b, n) each
            numbers = np.broadcast_to(seen + np.arange(len(batch))[:, None], where.shape)
            tops[name].update(values, np.stack([numbers, where // width, where % width], axis=-1))
            if pattern_values is not None:
                valued = unit_values(activation, border, objective).numpy()  # (b, n)
                below[name] += (valued < np.asarray(pattern_values[name])[None, :]).sum(axis=0)
        seen += len(batch)
    found = {}
    for name in names:
        top = tops[name]
        cells = top.payload[..., 1:]
        boxes = field_boxes(cells, field_geometry(model, name), side) if side else np.zeros((*cells.shape[:2], 4))
        found[name] = UnitExamples(
            layer=name,
            filters=np.asarray(filters[name]),
            values=top.values,
            images=top.payload[..., 0],
            cells=cells,
            boxes=boxes.astype(int),
            below=below[name] if pattern_values is not None else None,
            seen=seen,
        )
    return found


def crop_examples(examples: UnitExamples, images: np.ndarray, numbers: Sequence[int], size: int = 48) -> np.ndarray:
    """(n, k, size, size, 3) uint8: every example's receptive-field crop, resized to ``size``.

    Args:
        examples: One layer's ``UnitExamples``.
        images: (m, S, S, 3) the example images, 0-255, at the scanned side; ``numbers[i]`` is the scanned
            position of ``images[i]`` (only the images some unit chose need loading).
    """
    where = {int(number): index for index, number in enumerate(numbers)}
    units, kept = examples.images.shape
    # crop_and_resize reads a normalised coordinate t as pixel t * (side - 1): the boxes' last pixels, not their ends
    boxes = (examples.boxes.reshape(-1, 4) - np.array([0, 0, 1, 1])) / max(images.shape[1] - 1, 1)
    indices = [where[int(number)] for number in examples.images.reshape(-1)]
    crops = tf.image.crop_and_resize(
        np.asarray(images, np.float32),
        boxes.astype(np.float32),
        tf.constant(indices, tf.int32),
        (size, size),
        method="bilinear",
    )
    return np.clip(np.round(crops.numpy()), 0, 255).astype(np.uint8).reshape(units, kept, size, size, 3)


def pattern_percentiles(
    model,
    layer_name: str,
    filter_indices: Sequence[int],
    patterns,
    images,
    border: float = 0.0,
    objective: str = "channel",
    batch: int = 32,
) -> np.ndarray:
    """(n,) how strongly each filter's pattern drives it beside real photos: the percentage of ``images``
    (m, S, S, 3) on which filter ``filter_indices[i]`` (valued as the ascent valued it: ``border``,
    ``objective``) is below its pattern's (``patterns[i]``, same input scale). Below the 99th, the pattern is
    not a picture of what the unit wants most. ``scan_units``' pass, one per batch of images."""
    indices = [int(index) for index in filter_indices]
    wanted = filter_activations(model, layer_name, patterns, indices, border, objective)  # (n,)
    images = np.asarray(images, np.float32)
    batches = (images[start : start + batch] for start in range(0, len(images), batch))
    found = scan_units(model, {layer_name: indices}, batches, 1, {layer_name: wanted}, border, objective)
    return found[layer_name].percentiles
