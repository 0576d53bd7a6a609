"""Filter patterns: the input that maximises a filter, found by gradient ascent (arrays only).

Naive ascent on InceptionV3 gives "meaningless blur" past the first layers. We use what the
feature-visualization literature uses, each a flag with a default that reads well:
random jitter (the image is rolled a few pixels each step, so high-frequency adversarial patterns
do not pay), and, in pixel space, a mild Gaussian blur every few steps and octaves (optimise small,
upscale, continue), which grows structure at several scales. Or the image is drawn from a spectrum
(``parameterizations``: ``fourier``, ``maco``) optimised with Adam at full size. The objective is a
filter's mean over its map (``channel``) or its centre cell (``neuron``). Many filters are optimised
together as one batch, through the model cut at the layer (``forward(..., stop_after_taps=True)``).

A unit behind a ReLU (fused, ``Conv2D(..., activation="relu")``, or a ``ReLU``/``Activation("relu")`` layer)
that is off everywhere on the starting image has no gradient, so plain ascent never moves its pattern: the
unit's own ReLU passes a small gradient where it is off (``off_slope``), and, when asked (``redirect_relu``),
every ReLU below it is lucid's redirected ReLU; both in ``relus``. ReLU6, hard sigmoid and other capped activations keep
their own gradients.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from ..data.images import gaussian_blur
from ..models import layers as layer_tools
from ..models.forward import count_passes, forward
from ..settings.names import OBJECTIVES, PARAMETERIZATIONS
from ..settings.stages import AscentSettings
from .parameterizations import fourier_image, maco_image, natural_magnitude
from .relus import objective_relu, redirected_relu

# how ``ascend_spectrum`` moves the spectral parameters
ADAM = (0.9, 0.999, 1e-8)  # Adam's beta1, beta2 and epsilon for the spectral parameterisations

MAX_STEPS_VARIABLE = "VISCONVNETS_MAX_STEPS"  # caps every ascent's steps (tests set it low)


def capped_steps(steps: int) -> int:
    """``steps``, lowered to $VISCONVNETS_MAX_STEPS when that is set (tests)."""
    cap = os.environ.get(MAX_STEPS_VARIABLE)
    return min(steps, int(cap)) if cap else steps


def unit_values(activation, border: float, objective: str = "channel", directions=None):
    """(n, c) float32: every filter's value on each image, its mean over the map minus a border (``channel``)
    or its centre cell (``neuron``), from (n, h, w, c); with ``directions`` (k, c), (n, k) each direction's
    value instead, the dot product of the channels' values with it (a layer direction: a concept, a mix of
    filters). The map's size may be known only when run (one traced ascent step serves every octave)."""
    height, width = tf.shape(activation)[1], tf.shape(activation)[2]
    if objective == "neuron":
        values = tf.cast(activation[:, height // 2, width // 2, :], tf.float32)
    else:
        top = tf.cast(tf.cast(height, tf.float32) * border, tf.int32)  # floor: int(height * border)
        left = tf.cast(tf.cast(width, tf.float32) * border, tf.int32)
        cropped = activation[:, top : height - top, left : width - left, :]
        values = tf.reduce_mean(tf.cast(cropped, tf.float32), axis=(1, 2))
    return values if directions is None else tf.matmul(values, tf.cast(directions, tf.float32), transpose_b=True)


def _filter_scores(activation, filter_indices, border: float, objective: str = "channel", directions=None):
    """(n,) each image's own filter (or direction) ``filter_indices[i]``, valued as ``unit_values`` values it."""
    return tf.gather(unit_values(activation, border, objective, directions), filter_indices, axis=1, batch_dims=1)


def filter_activations(
    model,
    layer_name: str,
    images,
    filter_indices: Sequence[int],
    border: float = 0.0,
    objective: str = "channel",
    directions=None,
) -> np.ndarray:
    """(n,) activation of filter ``filter_indices[i]`` for ``images[i]``: its mean (border excluded if > 0) or,
    with ``objective="neuron"``, its centre cell; with ``directions`` (k, c), of direction ``filter_indices[i]``."""
    images = np.asarray(images, np.float32)
    count_passes("forward", model, images.shape, [layer_name])
    _, recorded = forward(model, tf.constant(images), taps=[layer_name], stop_after_taps=True)
    indices = tf.constant(list(filter_indices), tf.int32)
    return _filter_scores(recorded[layer_name], indices, border, objective, directions).numpy()


def _ascent_score(model, images, layer_name: str, indices, settings: AscentSettings, directions=None):
    """The sum over the batch of each image's own unit value (``_filter_scores``), through the ReLUs the ascent
    runs: the unit's own with ``settings.off_slope``, every other one redirected with ``redirect_relu``."""
    _, recorded = forward(
        model,
        images,
        taps=[layer_name],
        stop_after_taps=True,
        replace_relu=redirected_relu if settings.redirect_relu else None,
        tap_relu=objective_relu(settings.off_slope),
    )
    values = _filter_scores(recorded[layer_name], indices, settings.border, settings.objective, directions)
    return tf.reduce_sum(values)


def _check_settings(settings: AscentSettings) -> None:
    if settings.parameterization not in PARAMETERIZATIONS or settings.objective not in OBJECTIVES:
        raise ValueError(
            f"parameterization must be one of {', '.join(PARAMETERIZATIONS)} and objective one of "
            f"{', '.join(OBJECTIVES)}, got {settings.parameterization!r}, {settings.objective!r}"
        )


def _check_filters(model, layer_name: str, filter_indices: Sequence[int], directions=None) -> None:
    layer = layer_tools.find_layer(model, layer_name)
    if not layer_tools.has_4d_output(layer):
        raise ValueError(
            f"layer {layer_name!r} has output shape {tuple(layer.output.shape)}; filter patterns need a 4-D output"
        )
    channels = int(layer.output.shape[-1])
    if directions is not None:
        if np.ndim(directions) != 2 or np.shape(directions)[1] != channels:
            raise ValueError(
                f"directions must be (count, {channels}) for layer {layer_name!r}, got shape {np.shape(directions)}"
            )
        channels = len(directions)  # the indices choose directions
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
    directions=None,
) -> np.ndarray:
    """Optimised inputs, one per filter (or per row of ``directions`` (k, c) that ``filter_indices`` choose), in
    the model's input scale: (n, size, size, 3) float32."""
    settings = settings or AscentSettings()
    _check_filters(model, layer_name, filter_indices, directions)
    _check_settings(settings)
    if settings.parameterization != "pixel":
        return ascend_spectrum(model, layer_name, filter_indices, size, settings, seed, directions)
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

    @tf.function(autograph=False, input_signature=signature)  # a plain Python walk: autograph only adds tracing
    def step(image, shift, do_blur):
        rolled = tf.roll(image, shift, axis=(1, 2))
        with tf.GradientTape() as tape:
            tape.watch(rolled)
            score = _ascent_score(model, rolled, layer_name, indices, settings, directions)
        gradient = tape.gradient(score, rolled)
        gradient /= tf.sqrt(tf.reduce_mean(tf.square(gradient), axis=(1, 2, 3), keepdims=True)) + 1e-8
        updated = tf.roll(rolled + settings.step_size * gradient, -shift, axis=(1, 2))
        updated = tf.cond(do_blur, lambda: gaussian_blur(updated, settings.blur_sigma), lambda: updated)
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
            count_passes("gradient", model, image.shape, [layer_name])
    if image.shape[1] != size:
        image = tf.image.resize(image, (size, size), method="bicubic")
    return image.numpy()


def ascend_spectrum(
    model,
    layer_name: str,
    filter_indices: Sequence[int],
    size: int,
    settings: AscentSettings,
    seed: int = 0,
    directions=None,
) -> np.ndarray:
    """``ascend`` for the spectral parameterisations: the Fourier coefficients (or MaCo's phase) of every
    filter's image optimised together by Adam (``settings.learning_rate``) at ``size``, the image jittered
    each step: (n, size, size, 3) float32 in the model's input scale."""
    rng = np.random.default_rng(seed)
    indices = tf.constant([int(index) for index in filter_indices], tf.int32)
    shape = (len(filter_indices), 3, size, size // 2 + 1)  # per real part, channels first (rfft2d's layout)
    if settings.parameterization == "fourier":
        parameters = [tf.Variable(rng.normal(0, 0.01, shape).astype(np.float32)) for _ in range(2)]

        def draw():
            return fourier_image(parameters[0], parameters[1], size)
    else:  # maco: the phase only, the magnitude natural photos have
        magnitude = tf.constant(natural_magnitude(size))
        parameters = [tf.Variable(rng.uniform(-np.pi, np.pi, shape).astype(np.float32))]

        def draw():
            return maco_image(parameters[0], magnitude)

    moments = [(tf.Variable(tf.zeros(shape)), tf.Variable(tf.zeros(shape))) for _ in parameters]
    beta1, beta2, epsilon = ADAM

    @tf.function(autograph=False, input_signature=(tf.TensorSpec((2,), tf.int32), tf.TensorSpec((), tf.float32)))
    def step(shift, number):
        with tf.GradientTape() as tape:
            image = tf.roll(draw(), shift, axis=(1, 2))  # (n, S, S, 3), jittered
            score = _ascent_score(model, image, layer_name, indices, settings, directions)
        for parameter, gradient, (first, second) in zip(parameters, tape.gradient(score, parameters), moments):
            first.assign(beta1 * first + (1 - beta1) * gradient)
            second.assign(beta2 * second + (1 - beta2) * tf.square(gradient))
            corrected = (first / (1 - beta1**number)) / (tf.sqrt(second / (1 - beta2**number)) + epsilon)
            parameter.assign_add(settings.learning_rate * corrected)  # ascent: up the score

    for number in range(1, capped_steps(settings.steps) + 1):
        step(tf.constant(rng.integers(-settings.jitter, settings.jitter + 1, 2), tf.int32), tf.constant(float(number)))
        count_passes("gradient", model, (len(filter_indices), size, size), [layer_name])
    return draw().numpy()


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
    directions=None,
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
        directions: None, or (k, c) layer directions (a concept's, a mix of filters): ``filter_indices`` then
            choose rows, each pattern maximising the dot product of the layer's channels with its direction.
        **settings: Any field of ``AscentSettings`` (parameterization, objective, step_size, jitter,
            blur_every, octaves, learning_rate...).

    Returns:
        (n, size, size, 3) uint8.
    """
    settings = AscentSettings(steps=steps, **settings)
    optimised = ascend(model, layer_name, filter_indices, size, settings, seed, directions)
    return to_display(optimised)
