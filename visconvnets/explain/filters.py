"""Filter patterns: the input that maximises a filter, found by gradient ascent (arrays only).

Naive ascent on InceptionV3 gives "meaningless blur" past the first layers. We use what the
feature-visualization literature uses, each a flag with a default that reads well:
random jitter (the image is rolled a few pixels each step, so high-frequency adversarial patterns
do not pay), a mild Gaussian blur every few steps, and octaves (optimise small, upscale, continue),
which grows structure at several scales. Many filters are optimised together as one batch, through
the model cut at the layer (``forward(..., stop_after_taps=True)``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from ..data.images import gaussian_blur
from ..models import layers as layer_tools
from ..models.forward import forward
from ..settings.config import AscentSettings

MAX_STEPS_VARIABLE = "VISCONVNETS_MAX_STEPS"  # caps every ascent's steps (tests set it low)


def capped_steps(steps: int) -> int:
    """``steps``, lowered to $VISCONVNETS_MAX_STEPS when that is set (tests)."""
    cap = os.environ.get(MAX_STEPS_VARIABLE)
    return min(steps, int(cap)) if cap else steps


def _filter_scores(activation, filter_indices, border: float):
    """Mean of each image's own filter over the map minus a border: (n,) from (n, h, w, c).
    The map's size may be known only when run (one traced ascent step serves every octave)."""
    height, width = tf.shape(activation)[1], tf.shape(activation)[2]
    top = tf.cast(tf.cast(height, tf.float32) * border, tf.int32)  # floor: int(height * border)
    left = tf.cast(tf.cast(width, tf.float32) * border, tf.int32)
    cropped = activation[:, top : height - top, left : width - left, :]
    chosen = tf.gather(cropped, filter_indices, axis=3, batch_dims=1)  # (n, h', w')
    return tf.reduce_mean(tf.cast(chosen, tf.float32), axis=(1, 2))


def filter_activations(
    model, layer_name: str, images, filter_indices: Sequence[int], border: float = 0.0
) -> np.ndarray:
    """(n,) mean activation of filter ``filter_indices[i]`` for ``images[i]`` (border excluded if > 0)."""
    _, recorded = forward(model, tf.constant(np.asarray(images, np.float32)), taps=[layer_name], stop_after_taps=True)
    return _filter_scores(recorded[layer_name], tf.constant(list(filter_indices), tf.int32), border).numpy()


def _check_filters(model, layer_name: str, filter_indices: Sequence[int]) -> None:
    layer = layer_tools.find_layer(model, layer_name)
    if not layer_tools.has_4d_output(layer):
        raise ValueError(
            f"layer {layer_name!r} has output shape {tuple(layer.output.shape)}; filter patterns need a 4-D output"
        )
    channels = int(layer.output.shape[-1])
    bad = [index for index in filter_indices if not 0 <= int(index) < channels]
    if bad:
        raise ValueError(
            f"filter index {bad[0]} is out of range for layer {layer_name!r}, which has {channels} filters "
            f"(0-{channels - 1})"
        )
    if not len(filter_indices):
        raise ValueError("filter_indices is empty")


def ascend(
    model,
    layer_name: str,
    filter_indices: Sequence[int],
    size: int = 150,
    settings: AscentSettings | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Optimised inputs, one per filter, in the model's input scale: (n, size, size, 3) float32."""
    settings = settings or AscentSettings()
    _check_filters(model, layer_name, filter_indices)
    steps = capped_steps(settings.steps)
    rng = np.random.default_rng(seed)
    indices = tf.constant([int(index) for index in filter_indices], tf.int32)
    count = len(filter_indices)
    powers = range(settings.octaves - 1, -1, -1)  # smallest octave first
    sizes = [max(settings.smallest_octave, int(round(size / settings.octave_scale**power))) for power in powers]
    steps_per_octave = [steps // len(sizes) + (1 if octave < steps % len(sizes) else 0) for octave in range(len(sizes))]
    image = tf.constant(128.0 + rng.normal(0, 20, (count, sizes[0], sizes[0], 3)).astype(np.float32))

    # one trace serves every octave: the image side is left open (None) in the signature
    signature = (
        tf.TensorSpec((count, None, None, 3), tf.float32),  # images
        tf.TensorSpec((2,), tf.int32),  # jitter shift (rows, columns)
        tf.TensorSpec((), tf.bool),  # blur this step
    )

    @tf.function(input_signature=signature)
    def step(image, shift, do_blur):
        rolled = tf.roll(image, shift, axis=(1, 2))
        with tf.GradientTape() as tape:
            tape.watch(rolled)
            _, recorded = forward(model, rolled, taps=[layer_name], stop_after_taps=True)
            score = tf.reduce_sum(_filter_scores(recorded[layer_name], indices, settings.border))
        gradient = tape.gradient(score, rolled)
        gradient /= tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=(1, 2, 3), keepdims=True)) + 1e-8
        updated = tf.roll(rolled + settings.step_size * gradient, -shift, axis=(1, 2))
        if do_blur:
            updated = gaussian_blur(updated, settings.blur_sigma)
        return tf.clip_by_value(updated, 0.0, 255.0)

    done = 0
    for octave_size, octave_steps in zip(sizes, steps_per_octave):
        if image.shape[1] != octave_size:
            image = tf.image.resize(image, (octave_size, octave_size), method="bicubic")
        jitter = max(1, int(round(settings.jitter * octave_size / size)))
        for _ in range(octave_steps):
            done += 1
            shift = tf.constant(rng.integers(-jitter, jitter + 1, 2), tf.int32)
            do_blur = tf.constant(bool(settings.blur_every) and done % settings.blur_every == 0)
            image = step(image, shift, do_blur)
    if image.shape[1] != size:
        image = tf.image.resize(image, (size, size), method="bicubic")
    return image.numpy()


def to_display(patterns: np.ndarray) -> np.ndarray:
    """Per-pattern contrast stretch (mean 128, 3 standard deviations to the edges) to uint8."""
    mean = patterns.mean(axis=(1, 2, 3), keepdims=True)
    std = patterns.std(axis=(1, 2, 3), keepdims=True) + 1e-5
    return np.clip(128 + 42.5 * (patterns - mean) / std, 0, 255).astype(np.uint8)


def filter_patterns(
    model,
    layer_name: str,
    filter_indices: Sequence[int],
    size: int = 150,
    steps: int = AscentSettings.steps,
    seed: int = 0,
    **settings,
) -> np.ndarray:
    """The input that maximises each filter, all filters optimised together.

    Args:
        model: Flat or nesting a backbone; raw 0-255 RGB input for this project's models.
        layer_name: Layer whose filters (output channels) to visualise.
        filter_indices: Channels, one pattern each.
        size: Output side in pixels (at least 75 for InceptionV3).
        steps: Gradient steps (capped by $VISCONVNETS_MAX_STEPS).
        seed: Seeds the starting noise and the jitter.
        **settings: Any field of ``AscentSettings`` (step_size, jitter, blur_every, octaves...).

    Returns:
        (n, size, size, 3) uint8.
    """
    optimised = ascend(model, layer_name, filter_indices, size, AscentSettings(steps=steps, **settings), seed)
    return to_display(optimised)
