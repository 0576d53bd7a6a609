"""The ReLUs feature visualisation runs in place of a model's own (``filters.ascend``): the same values, other
gradients, so that a unit that is off on the starting image still gets a pattern (arrays and tensors only)."""

from __future__ import annotations

import tensorflow as tf


def redirected_relu(values):
    """ReLU with lucid's redirected gradient (Olah et al., 2017): for each image (batch row) where the plain
    ReLU gradient is zero everywhere, the upstream gradient passes wherever it would raise the input, and is
    stopped only where it would push an input that is already negative lower still. The value is max(x, 0).

    Args:
        values: (n, ...) the ReLU's input.
    """

    @tf.custom_gradient
    def relu(inputs):
        def gradient(upstream):
            plain = tf.where(inputs > 0, upstream, tf.zeros_like(upstream))
            redirected = tf.where((inputs < 0) & (upstream < 0), tf.zeros_like(upstream), upstream)
            axes = list(range(1, len(inputs.shape)))
            blocked = tf.reduce_max(tf.abs(plain), axis=axes, keepdims=True) == 0  # (n, 1, ...) per image
            return tf.where(blocked, redirected, plain)

        return tf.nn.relu(inputs), gradient

    return relu(values)


def objective_relu(slope: float):
    """The ReLU of the unit the objective reads, or None (the model's own): max(x, 0) whose gradient is
    ``slope`` where x < 0 (1 where x > 0), so a unit that is off on part of the image (or all of it) is
    pushed on there too; 0 gives None."""
    if not slope:
        return None

    def relu(values):
        return tf.nn.relu(values) + slope * (values - tf.stop_gradient(values)) * tf.cast(values < 0, values.dtype)

    return relu
