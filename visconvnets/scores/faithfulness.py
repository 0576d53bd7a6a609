"""Does a map point at what the model uses? Scores that perturb the input in the map's order.

* ``deletion_insertion`` (Petsiuk et al., 2018): remove (deletion) or reveal (insertion) pixels,
  most relevant first, and follow the class probability; a faithful map makes deletion fall fast
  (low AUC) and insertion rise fast (high AUC). What a removed pixel becomes (``REMOVALS``) decides what the
  score can see: a blur keeps colour, and a class carried by colour survives it (Rong et al., 2022; the
  "blurriness bias", arXiv 2304.13836), so ``removal_check`` measures each removal on the run's own model.
* ``road_scores`` (Rong et al., 2022): remove a share of pixels, most relevant first (MoRF) or least
  relevant first (LeRF), filling them by noisy linear imputation from the pixels kept, so the shape of
  the hole does not itself tell the model the class; ``road_combined`` = mean of (LeRF - MoRF) / 2.
* ``randomization_sanity`` and ``class_sensitivity`` (defined in ``sanity``, re-exported here): do the maps
  change when the weights are re-initialised, or when another class is asked about?

Every perturbed image of every step is run through the model in batches, never one at a time.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from ..data.images import gaussian_blur
from ..models.forward import class_probabilities, probabilities
from ..models.geometry import upsample_heatmaps
from ..settings.names import REMOVALS

BLUR_SIGMA = 0.05  # the blurred canvas of deletion/insertion: Gaussian sigma as a fraction of the image side
ROAD_NOISE = 0.025 * 255  # ROAD's imputation noise (their 0.025 on 0-1 pixels), on 0-255 pixels
ROAD_PERCENTILES = (10, 30, 50, 70, 90)
KEEPS_THE_CLASS = 0.5  # a removal leaving more than this share of the class above chance measures too little
# Each score a run reports, and whether a larger value is the better one.
HIGHER_IS_BETTER = {"deletion_auc": False, "insertion_auc": True, "road_combined": True, "pointing_game": True}


def _pixel_ranks(maps: np.ndarray, image_side: int, geometry=None, seed: int = 0) -> np.ndarray:
    """(n, H*W) rank of every pixel, 0 = most relevant, from (n, h, w) maps upsampled to the image.
    Ties (a map's zero region) are broken in a seeded random order, never in raster order (which
    would make a flat region act like a "top-left first" map)."""
    upsampled = upsample_heatmaps(maps, (image_side, image_side), geometry).reshape(len(maps), -1)
    shuffle = np.random.default_rng(seed).random(upsampled.shape)
    order = np.lexsort((shuffle, -upsampled), axis=-1)  # by relevance, then by the random key
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(order.shape[1])[None, :], axis=1)
    return ranks


def _explained_classes(model, images: np.ndarray, class_index) -> np.ndarray:
    if class_index is not None:
        return np.broadcast_to(np.asarray(class_index, np.int64), (len(images),)).copy()
    return probabilities(model, images).argmax(axis=1)


def _check_removal(removal: str) -> None:
    if removal not in REMOVALS:
        raise ValueError(f"removal must be one of {', '.join(REMOVALS)}, got {removal!r}")


def _canvas(images: np.ndarray, removal: str) -> np.ndarray:
    """(n, S, S, 3): what removed pixels become, every pixel removed (``impute``: filled from nothing, so each
    image's mean colour with noise)."""
    _check_removal(removal)
    if removal == "blur":
        return gaussian_blur(images, BLUR_SIGMA * images.shape[1]).numpy()
    if removal == "black":
        return np.zeros_like(images)
    if removal == "mean":  # the scored images' mean colour: one constant for all
        return np.broadcast_to(images.mean(axis=(0, 1, 2), keepdims=True), images.shape).copy()
    return impute(images, np.zeros(images.shape[:3], bool))


def removal_check(model, images, class_index=None, removals=REMOVALS) -> dict:
    """How much of the class each removal leaves when it removes every pixel: a removal that keeps most of it
    cannot show which pixels a map should have ranked first.

    Args:
        images: (n, S, S, 3) the scored images; class_index: as ``deletion_insertion``'s.

    Returns:
        {"original": mean class probability of the images, "chance": 1 / classes, "removals": {removal:
        {"removed": mean class probability with every pixel removed, "kept": the share of the class above
        chance that is left, (removed - chance) / (original - chance), "flagged": kept > KEEPS_THE_CLASS}}, "least":
        the removal that keeps the least}.
    """
    images = np.asarray(images, np.float32)
    found = probabilities(model, images)  # (n, classes): the images' own, once
    classes = found.argmax(axis=1) if class_index is None else _explained_classes(model, images, class_index)
    original, chance = float(found[np.arange(len(images)), classes].mean()), 1.0 / found.shape[1]
    canvases = np.concatenate([_canvas(images, removal) for removal in removals])
    removed = class_probabilities(
        model, len(canvases), lambda start, stop: canvases[start:stop], np.tile(classes, len(removals))
    )
    removed = removed.reshape(len(removals), len(images)).mean(axis=1)
    kept = (removed - chance) / max(original - chance, 1e-6)
    return {
        "original": original,
        "chance": chance,
        "removals": {
            removal: {"removed": float(value), "kept": float(share), "flagged": bool(share > KEEPS_THE_CLASS)}
            for removal, value, share in zip(removals, removed, kept)
        },
        "least": removals[int(np.argmin(kept))],
    }


def _curves(ends: np.ndarray, middle: np.ndarray, fractions: np.ndarray) -> dict:
    """One map set's deletion/insertion result from ``ends`` (2n,): the images' then the canvases' class
    probabilities, and ``middle`` (2, n, steps - 1): its inner steps, deletion then insertion."""
    count = middle.shape[1]
    deletion = np.concatenate([ends[:count, None], middle[0], ends[count:, None]], axis=1)
    insertion = np.concatenate([ends[count:, None], middle[1], ends[:count, None]], axis=1)
    area = np.trapezoid if hasattr(np, "trapezoid") else np.trapz
    return {
        "fractions": fractions,
        "deletion": deletion,
        "insertion": insertion,
        "deletion_auc": area(deletion, fractions, axis=1),
        "insertion_auc": area(insertion, fractions, axis=1),
    }


def deletion_insertion(
    model, images, maps, class_index=None, steps: int = 20, removal: str = "blur", geometry=None, seed: int = 0
):
    """Deletion and insertion curves and their areas, every step of every image batched.

    Args:
        model: The classifier (softmax or logits output).
        images: (n, S, S, 3) in the model's input scale.
        maps: (n, h, w) relevance maps (any resolution; upsampled to the image), or a dict of such map
            sets (e.g. one per method): all scored in one stream of batches, the two ends of every curve
            (the image, the canvas: the same whatever the map) run once per image.
        class_index: None (each image's predicted class), an int or one per image.
        steps: Curve points after the start (each removes or reveals 1/steps of the pixels).
        removal: What removed pixels become (``REMOVALS``): "blur" (the image blurred), "mean" (the scored images'
            mean colour), "black", or "impute" (ROAD's noisy linear imputation from the pixels kept at each step).
        geometry: (stride, offset) of the maps' cells (``geometry.receptive_field``); None: a plain resize.
        seed: Orders pixels of equal relevance.

    Returns:
        {"fractions": (steps + 1,), "deletion": (n, steps + 1), "insertion": (n, steps + 1) class
        probabilities, "deletion_auc": (n,), "insertion_auc": (n,) areas in [0, 1]}; for a dict of map
        sets, one such result per key.
    """
    images = np.asarray(images, np.float32)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    canvas = _canvas(images, removal)
    map_sets = maps if isinstance(maps, dict) else {None: maps}
    count, side = len(images), images.shape[1]
    classes = _explained_classes(model, images, class_index)
    ranks = np.stack([_pixel_ranks(np.asarray(found), side, geometry, seed) for found in map_sets.values()])
    ranks = ranks.reshape(len(map_sets), count, side, side)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    removed = np.round(fractions * side * side).astype(np.int64)[1:-1]  # pixels gone after each inner step
    inner = count * (steps - 1)  # perturbed images of one map set and mode; the ends are shared
    both_ends = np.concatenate([images, canvas])  # every curve's first and last point: image, then canvas
    ends = class_probabilities(model, 2 * count, lambda start, stop: both_ends[start:stop], np.tile(classes, 2))

    def make_batch(start: int, stop: int) -> np.ndarray:
        flat = np.arange(start, stop)
        map_set, mode, image, step = (
            flat // (2 * inner),
            flat // inner % 2,
            flat % inner // (steps - 1),
            flat % (steps - 1),
        )
        replaced = (ranks[map_set, image] < removed[step][:, None, None])[..., None]  # (b, S, S, 1): canvas here
        replaced = np.where(mode[:, None, None, None] == 0, replaced, ~replaced)  # insertion: the opposite
        if removal == "impute":  # filled from the pixels kept at this step
            return impute(images[image], ~replaced[..., 0], seed=seed + start)
        return np.where(replaced, canvas[image], images[image])

    classes_of = np.tile(np.repeat(classes, steps - 1), 2 * len(map_sets))
    middle = class_probabilities(model, 2 * inner * len(map_sets), make_batch, classes_of)
    middle = middle.reshape(len(map_sets), 2, count, steps - 1)
    results = {key: _curves(ends, middle[index], fractions) for index, key in enumerate(map_sets)}
    return results if isinstance(maps, dict) else results[None]


@functools.cache
def _pyramid_fill(side: int):
    """The traced fill of ``impute`` for images of ``side`` pixels (one trace per side, any batch), its noise
    and clipping too: 3.1x faster than filling every level at full size (BENCHMARKS.md)."""
    sides = [side]
    while sides[-1] > 1:
        sides.append(sides[-1] // 2)
    signature = (
        tf.TensorSpec((None, side, side, 3), tf.float32),  # images
        tf.TensorSpec((None, side, side, 1), tf.bool),  # kept
        tf.TensorSpec((), tf.float32),  # noise
        tf.TensorSpec((2,), tf.int32),  # seed
    )

    @tf.function(autograph=False, input_signature=signature)
    def fill(images, kept, noise, seed):
        reduced = tf.concat([tf.where(kept, images, 0.0), tf.cast(kept, tf.float32)], -1)  # (n, S, S, 4)
        levels = []  # the kept values and their weights, averaged down by 2 at each level, blurred a little
        for small in sides:
            if small != side:
                reduced = tf.image.resize(reduced, (small, small), method="area")
            levels.append(gaussian_blur(reduced, 1.0))
        result = tf.reduce_mean(images, axis=(1, 2), keepdims=True)  # (n, 1, 1, 3): nothing kept, the mean
        for level, small in zip(reversed(levels), reversed(sides)):  # coarsest first; a finer level with support wins
            values, total = level[..., :3], level[..., 3:]
            coarser = tf.image.resize(result, (small, small), method="bilinear")
            result = tf.where(total > 1e-3, values / tf.maximum(total, 1e-12), coarser)
        noisy = tf.clip_by_value(result + noise * tf.random.stateless_normal(tf.shape(images), seed), 0.0, 255.0)
        return tf.where(kept, images, noisy)

    return fill


def impute(images: np.ndarray, keep: np.ndarray, noise: float = ROAD_NOISE, seed: int = 0) -> np.ndarray:
    """Fill the pixels not kept from the kept ones: a weighted mean of the nearest kept pixels
    (normalised convolution on a pyramid: the kept pixels and their weights are averaged down by 2 level by
    level and blurred a little; from the coarsest level up, a pixel takes the finest level with support there,
    else the coarser result brought up), plus Gaussian noise of ``noise`` (seeded), clipped to 0-255.

    ROAD solves a sparse linear system (each removed pixel the weighted mean of its neighbours);
    normalised convolution is the same kind of linear fill without a sparse solver.

    Args:
        images: (n, S, S, 3); keep: (n, S, S) bool.

    Returns:
        (n, S, S, 3) float32: the kept pixels as they were, the others filled.
    """
    images = np.asarray(images, np.float32)
    fill = _pyramid_fill(images.shape[1])
    seeds = tf.constant([seed % 2**31, 0], tf.int32)
    return fill(tf.constant(images), tf.constant(keep[..., None]), tf.constant(noise, tf.float32), seeds).numpy()


def road_scores(model, images, maps, class_index=None, percentiles=ROAD_PERCENTILES, geometry=None, seed: int = 0):
    """ROAD: class probability after removing each percentile of pixels, most and least relevant first.

    Args:
        maps: (n, h, w), or a dict of such map sets scored in one stream of batches; other arguments as
            ``deletion_insertion``.

    Returns:
        {"percentiles": (p,), "morf": (n, p), "lerf": (n, p) class probabilities, "road_combined": (n,)
        mean over percentiles of (LeRF - MoRF) / 2: higher means the map ranks pixels by their use}; for
        a dict, one such result per key.
    """
    images = np.asarray(images, np.float32)
    map_sets = maps if isinstance(maps, dict) else {None: maps}
    count, side = len(images), images.shape[1]
    classes = _explained_classes(model, images, class_index)
    ranks = np.stack([_pixel_ranks(np.asarray(found), side, geometry, seed) for found in map_sets.values()])
    ranks = ranks.reshape(len(map_sets) * count, side, side)  # map set by map set, image by image
    shares = np.asarray(percentiles, np.float64) / 100.0
    removed = np.round(shares * side * side).astype(np.int64)
    per_image = 2 * len(shares)  # MoRF at each share, then LeRF at each share

    def make_batch(start: int, stop: int) -> np.ndarray:
        flat = np.arange(start, stop)
        row, slot = flat // per_image, flat % per_image
        gone = removed[slot % len(shares)][:, None, None]
        most_first = slot < len(shares)
        keep = np.where(most_first[:, None, None], ranks[row] >= gone, ranks[row] < side * side - gone)
        return impute(images[row % count], keep, seed=seed + start)

    total = len(map_sets) * count * per_image
    probabilities = class_probabilities(model, total, make_batch, np.tile(np.repeat(classes, per_image), len(map_sets)))
    results = {}
    for index, key in enumerate(map_sets):
        morf, lerf = np.split(probabilities.reshape(len(map_sets), count, per_image)[index], 2, axis=1)
        results[key] = {
            "percentiles": np.asarray(percentiles),
            "morf": morf,
            "lerf": lerf,
            "road_combined": ((lerf - morf) / 2).mean(1),
        }
    return results if isinstance(maps, dict) else results[None]
