"""The batched pass of ``cam_pass``/``contrast_passes`` traced once per (model, layer) and reused, for
callers that explain images again and again (the probe images at every epoch end, then the run's
pointing game, scores, randomisation steps and panels), where eager per-layer dispatch costs several
times the arithmetic. Tracing costs a few seconds once; each later call is one graph run.

Opt in with ``trace_passes(model, layer_name)``: from then on ``cam``, ``cam_pass``, ``contrast_passes``
and everything built on them use the traced graph for that model and layer (weights are read at every
call, so training and in-place weight changes are seen). Models are held weakly: a model that is
dropped takes its traced pass with it.
"""

from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from ...models import layers as layer_tools
from ...models.forward import fits, forward, input_spec
from ...models.per_model import PerModel

# Passes over the same model and layer from which tracing pays (the trace's one-off cost against the eager
# pass it replaces: BENCHMARKS.md, "Timings measured for the code's own choices").
TRACE_FROM_PASSES = 5
_REGISTERED = PerModel()  # (model, layer name) -> TracedPasses


class TracedPasses:
    """``passes(images, first, second)`` -> NumPy (activations (n, h, w, c), gradients of the ``first``
    classes' scores, gradients of the ``second`` classes' scores, both (n, h, w, c), class scores
    (n, classes), the first classes (n,), the second (n,)): one forward and two backward passes in one traced
    graph. A class below 0 means "this image's predicted class".

    Args:
        model: Any model ``forward`` walks (held weakly); its weights are read at every call.
        layer_name: The layer to explain, with a (batch, h, w, channels) output.
    """

    def __init__(self, model, layer_name: str):
        if not layer_tools.has_4d_output(layer_tools.find_layer(model, layer_name)):
            raise ValueError(f"layer {layer_name!r} has no (batch, h, w, channels) output")
        self.layer_name, self.spec = layer_name, input_spec(model)
        model_reference = weakref.ref(model)  # read while tracing only: the graph keeps the variables, not the model

        classes_spec = tf.TensorSpec((None,), tf.int32)

        @tf.function(autograph=False, input_signature=[self.spec, classes_spec, classes_spec])
        def both_passes(images, first, second):  # plain Python walk: autograph would only add tracing time
            with tf.GradientTape(persistent=True) as tape:
                logits, recorded = forward(model_reference(), images, taps=[layer_name], logits=True)
                activations = recorded[layer_name]  # (n, h, w, c) float32
                predicted = tf.argmax(logits, axis=1, output_type=tf.int32)
                first = tf.where(first < 0, predicted, first)
                second = tf.where(second < 0, predicted, second)
                # images are independent (inference mode): the gradient of a sum is each image's own
                scores = [tf.reduce_sum(tf.gather(logits, chosen, axis=1, batch_dims=1)) for chosen in (first, second)]
            gradients = [tape.gradient(score, activations) for score in scores]
            return activations, *gradients, logits, first, second

        self._both_passes = both_passes

    def accepts(self, images: np.ndarray) -> bool:
        """Whether ``images`` fit the traced signature (else the caller runs the eager pass)."""
        return fits(self.spec, images)

    def __call__(self, images: np.ndarray, first, second=None) -> tuple[np.ndarray, ...]:
        images = tf.constant(np.asarray(images, np.float32))
        second = np.full(len(images), -1) if second is None else second
        first, second = (tf.constant(np.asarray(classes, np.int32)) for classes in (first, second))
        return tuple(tensor.numpy() for tensor in self._both_passes(images, first, second))


def trace_passes(model, layer_name: str) -> TracedPasses:
    """The traced pass of ``model`` at ``layer_name``, made and registered on first use (tracing happens
    at its first call); every later CAM pass over this model and layer runs it."""
    return _REGISTERED.get_or_make(model, layer_name, lambda: TracedPasses(model, layer_name))


def traced_passes(model, layer_name: str) -> TracedPasses | None:
    """The registered traced pass of ``model`` at ``layer_name``, or None (eager passes)."""
    return _REGISTERED.get(model, layer_name)


def drop_traced_passes(model) -> None:
    """Forget ``model``'s traced passes: its CAM passes run eagerly again."""
    _REGISTERED.drop(model)
