"""The pass of ``contrasting_maps`` traced once and reused: for callers that explain the same number of
images again and again (the probe images at every epoch end), where eager per-layer dispatch costs
several times the arithmetic. Tracing costs a few seconds once; each later call is a graph run."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .. import layers as layer_tools
from ..forward import forward
from .base import CamPass


class TracedContrast:
    """``contrast(images, classes)`` -> (pass for ``classes``, pass for each image's predicted class),
    two ``CamPass`` from one forward and two backward passes in one traced graph.

    Args:
        model: Any model ``forward`` walks; its weights are read at every call (training may change them).
        layer_name: The layer to explain, with a (batch, h, w, channels) output.
    """

    def __init__(self, model, layer_name: str):
        if not layer_tools.has_4d_output(layer_tools.find_layer(model, layer_name)):
            raise ValueError(f"layer {layer_name!r} has no (batch, h, w, channels) output")
        self.model, self.layer_name = model, layer_name

        @tf.function(autograph=False, reduce_retracing=True)  # plain Python walk: autograph only adds tracing time
        def both_passes(images, classes):
            with tf.GradientTape(persistent=True) as tape:
                logits, recorded = forward(model, images, taps=[layer_name], logits=True)
                activations = recorded[layer_name]  # (n, h, w, c) float32
                predicted = tf.argmax(logits, axis=1, output_type=tf.int32)
                # images are independent (inference mode): the gradient of a sum is each image's own
                given = tf.reduce_sum(tf.gather(logits, classes, axis=1, batch_dims=1))
                guessed = tf.reduce_sum(tf.gather(logits, predicted, axis=1, batch_dims=1))
            return (
                activations,
                tape.gradient(given, activations),
                tape.gradient(guessed, activations),
                logits,
                predicted,
            )

        self._both_passes = both_passes

    def __call__(self, images: np.ndarray, classes) -> tuple[CamPass, CamPass]:
        images = np.asarray(images, np.float32)
        classes = np.asarray(classes, np.int32)
        activations, given, guessed, logits, predicted = (
            tensor.numpy() for tensor in self._both_passes(tf.constant(images), tf.constant(classes))
        )

        def one_pass(gradients, indices) -> CamPass:
            return CamPass(
                self.model, images, self.layer_name, activations, gradients, logits, indices.astype(np.int64)
            )

        return one_pass(given, classes), one_pass(guessed, predicted)
