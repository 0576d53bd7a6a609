"""RISE (Petsiuk et al., 2018): ``masks`` random low-resolution binary masks, each upsampled with a random
shift; the image is multiplied by each, and every mask is weighted by the class probability (after the
softmax, as in the paper) of its masked image. A pixel's map is the expected probability when it is kept."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from ...models.forward import class_probabilities
from .base import register_pixel_method, spread_over_channels

MASKS = 500  # random masks per image (the paper: 4,000-8,000; 500 keeps the demo within its time)
CELLS = 7  # mask grid cells a side (the paper's 7)
KEEP = 0.5  # probability that a grid cell is kept (the paper's p)


def rise_masks(count: int, height: int, width: int, cells: int = CELLS, keep: float = KEEP, seed: int = 0):
    """(count, height, width) float32 soft masks in [0, 1]: a ``cells`` x ``cells`` grid of cells kept with
    probability ``keep``, upsampled bilinearly to (cells + 1) cell sizes and cropped at a random shift."""
    if count < 1 or cells < 1 or not 0 < keep <= 1:
        raise ValueError(f"rise needs masks >= 1, cells >= 1 and 0 < keep <= 1, got {count}, {cells}, {keep}")
    rng = np.random.default_rng(seed)
    grid = (rng.random((count, cells, cells)) < keep).astype(np.float32)
    cell_height, cell_width = math.ceil(height / cells), math.ceil(width / cells)
    large = tf.image.resize(grid[..., None], ((cells + 1) * cell_height, (cells + 1) * cell_width)).numpy()[..., 0]
    shifts = rng.integers(0, [cell_height, cell_width], (count, 2))
    rows = shifts[:, 0, None] + np.arange(height)[None]  # (count, H) rows each mask keeps
    columns = shifts[:, 1, None] + np.arange(width)[None]
    return large[np.arange(count)[:, None, None], rows[:, :, None], columns[:, None, :]]


def _masked_copies(image: np.ndarray, masks: np.ndarray):
    """``make_batch(start, stop)`` -> (stop - start, H, W, 3): ``image`` times masks start..stop."""
    return lambda start, stop: image[None] * masks[start:stop, :, :, None]


@register_pixel_method("rise", natural_reduce="sum", options=("masks", "cells", "keep", "seed"))
def rise_attributions(
    model,
    images: np.ndarray,
    classes: np.ndarray,
    masks: int = MASKS,
    cells: int = CELLS,
    keep: float = KEEP,
    seed: int = 0,
) -> np.ndarray:
    """(n, H, W, 3) sum over masks of probability x mask / (masks x keep), spread equally over the channels;
    the same masks for every image, masked copies in batches by pixels (a batch of masks at a time)."""
    count, height, width = images.shape[:3]
    found = rise_masks(int(masks), height, width, cells, keep, seed)  # (m, H, W)
    saliency = np.zeros((count, height, width), np.float64)
    for index in range(count):  # one image's masked copies, a batch at a time: memory flat in masks and images
        masked = _masked_copies(images[index], found)
        weights = class_probabilities(model, len(found), masked, np.full(len(found), classes[index]))
        saliency[index] = np.tensordot(weights, found, axes=1) / (len(found) * keep)
    return spread_over_channels(saliency)
