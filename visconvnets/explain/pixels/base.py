"""Shared machinery of the pixel attributions: the class scores' input gradients in batches sized by pixels
(one traced function per model), the class logits of many perturbed images, the channel reductions and the
registration in the one registry (``explain.methods``; ``explain.attribution.attribute`` runs them).

Every method gives raw attributions (n, H, W, 3) in the input's own units (signed); ``attribute`` reduces
them over the colour channels and scales each map to [0, 1], or returns them raw with ``reduce=None``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from ...models.forward import count_passes, forward, input_spec, perturbed_batch_size, probabilities
from ...models.heads import class_count
from ...models.per_model import PerModel
from ..methods import MapMethod, class_indices, normalise_maps, register_method

GRADIENT_PIXELS = 16 * 128 * 128  # input pixels per forward+backward batch: 16 images at 128 px, 2 at 299
REDUCTIONS = ("abs_sum", "abs_max", "sum")  # over the colour channels; None: the raw (n, H, W, 3)
_GRADIENTS = PerModel()  # (model, image shape) -> traced input-gradient function (plain and guided)
_LOGITS = PerModel()  # (model, image shape) -> traced class-logit function


def _signature(shape: tuple[int, ...]) -> list[tf.TensorSpec]:
    """(images with an open batch size, their classes): one trace serves every batch (tracing InceptionV3's
    gradient costs 3-4 s; ``reduce_retracing`` alone traced twice, for the first and the second batch size)."""
    return [tf.TensorSpec((None, *shape), tf.float32), tf.TensorSpec((None,), tf.int32)]


def register_pixel_method(name: str, natural_reduce: str = "abs_sum", options: tuple[str, ...] = ()) -> Callable:
    """Decorator: register ``raw(model, images, classes, **options) -> (n, H, W, 3)`` under ``name`` in the
    one registry (``methods.MAP_METHODS``), beside the CAMs: its maps for ``cam()`` and the run are the raw
    attributions reduced with ``natural_reduce`` (its paper's picture), with the pass's options for ``name``
    (``CamPass.options``), else the defaults (and the pass's seed, for a method that takes one)."""

    def decorate(function: Callable) -> Callable:
        def unscaled(one_pass) -> np.ndarray:  # (n, H, W) in the class score's units, before ReLU and scaling
            given = {"seed": one_pass.seed} if "seed" in options else {}
            given.update(one_pass.options.get(name, {}))
            raw = function(one_pass.model, one_pass.images, np.asarray(one_pass.indices), **given)
            return reduce_channels(raw, natural_reduce)

        def compute(one_pass) -> np.ndarray:
            return normalise_maps(unscaled(one_pass))

        register_method(MapMethod(name, compute, False, unscaled, function, natural_reduce, options))
        return function

    return decorate


def batch_size_for(images: np.ndarray, pixels: int) -> int:
    """Images per batch so that a batch holds about ``pixels`` input pixels (at least one image)."""
    return max(1, pixels // (images.shape[1] * images.shape[2]))


def switchable_relu(guided: tf.Tensor) -> Callable:
    """A ReLU whose backward pass, where the scalar bool ``guided`` is true, lets through only positive
    gradients at positive inputs (guided backpropagation's rule, Springenberg et al. 2015), and is the plain
    ReLU's gradient otherwise: one traced gradient serves both (a trace of InceptionV3's costs 3-4 s)."""

    @tf.custom_gradient
    def relu(inputs):
        def gradient(upstream):
            passed = upstream * tf.cast(inputs > 0, upstream.dtype)  # the ReLU's own gradient
            return tf.where(guided, passed * tf.cast(upstream > 0, upstream.dtype), passed)

        return tf.nn.relu(inputs), gradient

    return relu


def _gradient_function(model, shape: tuple[int, ...]) -> Callable:
    """``(images (b, H, W, 3), classes (b,), guided ()) -> (gradients (b, H, W, 3), scores (b,))`` of each
    image's class score before the softmax, traced once per model and image shape with an open batch size;
    ``guided``: every ReLU passes back only positive gradients (``switchable_relu``)."""

    def make():
        @tf.function(autograph=False, input_signature=[*_signature(shape), tf.TensorSpec((), tf.bool)])
        def gradients(images, classes, guided):  # a plain Python walk: autograph would only add tracing time
            with tf.GradientTape() as tape:
                tape.watch(images)
                logits, _ = forward(model, images, logits=True, replace_relu=switchable_relu(guided))
                scores = tf.gather(logits, classes, axis=1, batch_dims=1)  # (b,) each image's own class
                total = tf.reduce_sum(scores)  # images are independent: each gets its own score's gradient
            return tape.gradient(total, images), scores

        return gradients

    return _GRADIENTS.get_or_make(model, shape, make)


def input_gradients(model, images: np.ndarray, classes: np.ndarray, guided: bool = False):
    """(gradients (n, H, W, 3) float32, class scores (n,) float64) of each image's class score before the
    softmax with respect to its pixels, in batches of ``GRADIENT_PIXELS``; ``guided``: ReLUs pass only
    positive gradients (guided backpropagation)."""
    function = _gradient_function(model, tuple(images.shape[1:]))
    count_passes("gradient", model, images.shape)
    gradients, scores = np.empty(images.shape, np.float32), np.empty(len(images), np.float64)
    size, switch = batch_size_for(images, GRADIENT_PIXELS), tf.constant(bool(guided))
    for start in range(0, len(images), size):
        part = slice(start, start + size)
        found, score = function(tf.constant(images[part]), tf.constant(classes[part], tf.int32), switch)
        gradients[part], scores[part] = found.numpy(), score.numpy()
    return gradients, scores


def class_logits(model, count: int, make_batch: Callable, classes: np.ndarray) -> np.ndarray:
    """(count,) each image's class score before the softmax, forward passes only, in the perturbed images'
    batches (``forward.perturbed_batch_size``) through one traced function per model. (After the softmax:
    ``forward.class_probabilities``, the same call.)

    Args:
        count: Images in all.
        make_batch: ``make_batch(start, stop)`` -> (stop - start, H, W, 3) images, built a batch at a time,
            so many perturbed copies never sit in memory at once.
        classes: (count,) the class of each.
    """

    def make(shape: tuple[int, ...]):
        @tf.function(autograph=False, input_signature=_signature(shape))
        def logits_of(batch, indices):
            logits, _ = forward(model, batch, logits=True)
            return tf.gather(logits, indices, axis=1, batch_dims=1)

        return logits_of

    found, size, function = np.empty(count, np.float64), perturbed_batch_size(model), None
    for start in range(0, count, size):
        stop = min(count, start + size)
        batch = np.asarray(make_batch(start, stop), np.float32)
        if function is None:  # the images' shape is known from the first batch
            function = _LOGITS.get_or_make(model, batch.shape[1:], functools.partial(make, batch.shape[1:]))
        found[start:stop] = function(tf.constant(batch), tf.constant(classes[start:stop], tf.int32)).numpy()
        count_passes("forward", model, batch.shape)
    return found


def mean_gradient(model, copies: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) float64: each image's input gradient averaged over its ``k`` copies (k, n, H, W, 3)
    (SmoothGrad's noisy copies, the points of integrated gradients' path), every copy in batches by pixels."""
    count, images = copies.shape[0], copies.shape[1]
    gradients, _ = input_gradients(model, copies.reshape(-1, *copies.shape[2:]), np.tile(classes, count))
    return gradients.reshape(count, images, *copies.shape[2:]).mean(axis=0, dtype=np.float64)


def spread_over_channels(values: np.ndarray) -> np.ndarray:
    """(n, H, W) one value per pixel -> (n, H, W, 3) float32 split equally over the colour channels (their sum
    is the pixel's value), the raw form every method returns."""
    return np.repeat((values / 3.0)[..., None], 3, axis=-1).astype(np.float32)


def explained_classes(model, images: np.ndarray, class_index) -> np.ndarray:
    """(n,) int64: ``class_index`` (an int for all, or one per image; checked as the CAMs check it), or each
    image's predicted class for None."""
    if class_index is None:
        return probabilities(model, images).argmax(axis=1)
    return class_indices(class_index, len(images), class_count(model))


def checked_images(model, images) -> np.ndarray:
    """``images`` as (n, H, W, 3) float32, matching the model's input size where it is fixed."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise ValueError(f"images must be (n, height, width, 3) with n >= 1, got shape {images.shape}")
    expected = tuple(input_spec(model).shape[1:3])
    if all(expected) and tuple(images.shape[1:3]) != expected:
        raise ValueError(
            f"images must be {expected[0]}x{expected[1]} for this model, got {images.shape[1]}x{images.shape[2]}"
        )
    return images


def reduce_channels(raw: np.ndarray, reduce: str) -> np.ndarray:
    """(n, H, W, 3) raw attributions -> (n, H, W) float64 reduced over the colour channels: ``abs_sum`` (sum of
    magnitudes), ``abs_max`` (the largest magnitude) or ``sum`` (signed; the scaling's ReLU keeps the positive)."""
    if reduce == "abs_sum":
        return np.abs(raw).sum(axis=-1, dtype=np.float64)
    if reduce == "abs_max":
        return np.abs(raw).max(axis=-1).astype(np.float64)
    if reduce == "sum":
        return raw.sum(axis=-1, dtype=np.float64)
    raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)} or None, got {reduce!r}")


def reduce_attributions(raw: np.ndarray, reduce: str) -> np.ndarray:
    """(n, H, W, 3) raw attributions -> (n, H, W) float32 in [0, 1]: ``reduce_channels``, then each map divided
    by its peak after a ReLU (all zeros stays zeros)."""
    return normalise_maps(reduce_channels(raw, reduce))
