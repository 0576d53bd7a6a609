"""Shared machinery: one batched forward/backward pass giving a layer's activations, the gradient of
each image's class score (before the softmax) with respect to them, and the class scores."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from .. import layers as layer_tools
from ..forward import forward, softmax


def default_cam_layer(model) -> str:
    """The deepest layer with a (batch, h, w, channels) output: the usual CAM layer, the one feeding
    the classifier's pooling (``mixed10`` in InceptionV3). Callers with model knowledge pass their own."""
    return layer_tools.last_spatial_layer(model)


def _class_indices(class_index, logits: np.ndarray) -> np.ndarray:
    """(n,) int: predicted classes for None, one int broadcast, or one int per image."""
    count, classes = logits.shape
    if class_index is None:
        return logits.argmax(axis=1)
    indices = np.asarray(class_index, dtype=np.int64)
    if indices.ndim == 0:
        indices = np.broadcast_to(indices, (count,))
    if indices.shape != (count,):
        raise ValueError(f"class_index must be None, an int or one int per image ({count}), got {len(indices)} values")
    if indices.min() < 0 or indices.max() >= classes:
        raise ValueError(f"class_index must be in [0, {classes - 1}], got {indices.tolist()}")
    return indices


def activations_and_gradients(model, images, class_index=None, layer_name: str | None = None):
    """One forward and backward pass for the whole batch.

    Args:
        images: (n, H, W, 3) in the model's input scale.
        class_index: None (predicted class), an int, or a sequence of n ints.
        layer_name: Layer to explain; None means ``default_cam_layer``.

    Returns:
        (activations (n, h, w, c), gradients (n, h, w, c) of each image's class logit, logits
        (n, classes), class indices (n,)) as NumPy arrays.
    """
    activations, gradients, logits, indices = _forward_and_gradients(model, images, [class_index], layer_name)
    return activations, gradients[0], logits, indices[0]


def _forward_and_gradients(model, images, class_index_sets: list, layer_name: str | None):
    """One forward pass, one backward pass per entry of ``class_index_sets`` (persistent tape)."""
    layer_name = layer_name or default_cam_layer(model)
    layer = layer_tools.find_layer(model, layer_name)
    if not layer_tools.has_4d_output(layer):
        raise ValueError(
            f"layer {layer_name!r} has output shape {tuple(layer.output.shape)}; Grad-CAM needs (batch, h, w, channels)"
        )
    images = tf.convert_to_tensor(np.asarray(images, dtype="float32"))
    with tf.GradientTape(persistent=len(class_index_sets) > 1) as tape:
        logits, recorded = forward(model, images, taps=[layer_name], logits=True)
        activations = recorded[layer_name]
        index_sets = [_class_indices(class_index, logits.numpy()) for class_index in class_index_sets]
        # Images are independent (inference mode), so the gradient of the sum is each image's own.
        scores = [tf.reduce_sum(tf.gather(logits, indices, axis=1, batch_dims=1)) for indices in index_sets]
    gradients = [tape.gradient(score, activations).numpy() for score in scores]
    del tape
    return activations.numpy(), gradients, logits.numpy(), index_sets


def normalise_maps(weighted: np.ndarray) -> np.ndarray:
    """ReLU, then each map divided by its maximum; an all-negative (or zero) map stays all zeros.

    Args:
        weighted: (n, h, w) channel-weighted sums.

    Returns:
        (n, h, w) float32 in [0, 1], never NaN.
    """
    positive = np.maximum(weighted, 0.0)
    peak = positive.max(axis=(1, 2), keepdims=True)
    return np.divide(positive, peak, out=np.zeros_like(positive), where=peak > 0).astype(np.float32)


CAM_METHODS: dict[str, Callable] = {}


def class_activation_maps(model, images, class_index=None, layer_name: str | None = None, method: str = "gradcam"):
    """Maps plus what a caller showing them needs, from one pass.

    Returns:
        (maps (n, h, w) in [0, 1], probabilities (n, classes), class indices (n,)).
    """
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose from {', '.join(sorted(CAM_METHODS))}")
    activations, gradients, logits, indices = activations_and_gradients(model, images, class_index, layer_name)
    return CAM_METHODS[method](activations, gradients), softmax(logits), indices


def contrasting_maps(model, images, other_class_index, layer_name: str | None = None, method: str = "gradcam"):
    """Maps for each image's predicted class and for ``other_class_index`` (e.g. the true class),
    from ONE forward pass and two backward passes.

    Returns:
        (predicted maps (n, h, w), other maps (n, h, w), probabilities (n, classes), predicted indices (n,)).
    """
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose from {', '.join(sorted(CAM_METHODS))}")
    activations, gradients, logits, index_sets = _forward_and_gradients(
        model, images, [None, other_class_index], layer_name
    )
    return (
        CAM_METHODS[method](activations, gradients[0]),
        CAM_METHODS[method](activations, gradients[1]),
        softmax(logits),
        index_sets[0],
    )


def register(name: str) -> Callable:
    def decorate(function: Callable) -> Callable:
        CAM_METHODS[name] = function
        return function

    return decorate
