"""One forward pass that can read any layer, in flat models and in models that nest a backbone.

``keras.Model(model.inputs, inner_layer.output)`` fails with "Graph disconnected" when the layer
lives in a nested model (``Sequential([InceptionV3(...), GlobalAveragePooling2D(), Dense(...)])``).
Instead we walk the model's own graph, layer by layer, descending into nested models, and record
the outputs we were asked for. The same walk carries other values than tensors (``receptive_field``
sends stride/offset pairs through it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import keras
import numpy as np

from . import keras_internals
from .config import PICTURE_BATCH_SIZE
from .layers import unknown_layer_error

PERTURBED_BATCH_SIZE = 2 * PICTURE_BATCH_SIZE  # masked/deleted images per predict call (no gradients)


class _StopWalkError(Exception):
    """Raised inside the walk once every requested layer has been computed."""


def walk(model, value, layer_fn: Callable):
    """Push ``value`` through ``model`` in graph order, calling ``layer_fn(layer, *args, **kwargs)`` for
    every non-model layer; nested models are walked recursively. Returns the model's output value."""

    def call(operation, *args, **kwargs):
        if isinstance(operation, keras.Model):
            return walk(operation, args[0], layer_fn)
        return layer_fn(operation, *args, **kwargs)

    if isinstance(model, keras.Sequential):
        for layer in model.layers:
            value = call(layer, value)
        return value
    outputs = keras_internals.run_through_graph(model, value, call)
    return outputs[0] if isinstance(outputs, (list, tuple)) and len(outputs) == 1 else outputs


def final_layer(model):
    """The layer producing the model's output (inside nested models too)."""
    if isinstance(model, keras.Sequential):
        last = model.layers[-1]
    else:
        last = keras_internals.producing_layer(model.outputs[0])
    return final_layer(last) if isinstance(last, keras.Model) else last


def _is_softmax(function) -> bool:
    return function is keras.activations.softmax or getattr(function, "__name__", "") == "softmax"


def softmax(logits: np.ndarray) -> np.ndarray:
    """(n, classes) class scores before the softmax -> probabilities, computed stably in NumPy."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def probabilities(model, images) -> np.ndarray:
    """(n, classes) probabilities of one batch through Keras's compiled predict step (traced once per
    model and reused: the scores run many batches); logits outputs get a softmax.

    Args:
        images: (n, H, W, 3) in the model's input scale.
    """
    outputs = np.asarray(model.predict_on_batch(np.asarray(images, np.float32)), np.float64)
    return outputs if outputs_probabilities(model) else softmax(outputs)


def class_probabilities(model, count: int, make_batch: Callable, class_indices: np.ndarray) -> np.ndarray:
    """(count,) probability of each of ``count`` images for its own class, run in batches of
    ``PERTURBED_BATCH_SIZE``.

    Args:
        make_batch: ``make_batch(start, stop)`` -> (stop - start, H, W, 3) images: built a batch at a time,
            so many perturbed copies of each image never sit in memory at once.
        class_indices: (count,) the class of each.
    """
    found = np.empty(count, np.float64)
    for start in range(0, count, PERTURBED_BATCH_SIZE):
        stop = min(count, start + PERTURBED_BATCH_SIZE)
        found[start:stop] = probabilities(model, make_batch(start, stop))[
            np.arange(stop - start), class_indices[start:stop]
        ]
    return found


def outputs_probabilities(model) -> bool:
    """True when the model ends in a softmax (a Softmax layer, or a layer with a softmax activation);
    False when it outputs logits (e.g. a plain Dense)."""
    last = final_layer(model)
    return isinstance(last, keras.layers.Softmax) or _is_softmax(getattr(last, "activation", None))


def _float32_tap(output):
    """(float32 tensor to record, tensor to pass on). A mixed-precision model's 16-bit activations are
    recorded as float32, and the walk goes on from that copy, so gradients reach the recorded tensor."""
    if keras.backend.standardize_dtype(output.dtype) in ("bfloat16", "float16"):
        recorded = keras.ops.cast(output, "float32")
        return recorded, keras.ops.cast(recorded, output.dtype)
    return output, output


def forward(model, images, taps: Iterable[str] = (), logits: bool = False, stop_after_taps: bool = False):
    """Run ``model`` on ``images`` and record the outputs of the layers named in ``taps``.

    Args:
        model: A Keras model, flat or nesting other models.
        images: (batch, height, width, 3) float32 in the model's input scale.
        taps: Names of layers whose outputs to record (any depth of nesting).
        logits: Read a softmax output layer as its logits (the class scores before the softmax).
        stop_after_taps: Stop as soon as every tap is computed (a sub-model that ends at the layer).

    Returns:
        (output, {name: tensor}): output is (batch, classes) probabilities, or logits when
        ``logits``; None when the walk stopped early. Every tensor is float32, whatever the
        model's precision.
    """
    wanted = set(taps)
    recorded: dict = {}
    last = final_layer(model) if logits else None

    def run_layer(layer, *args, **kwargs):
        if (
            layer is last
            and isinstance(layer, (keras.layers.Softmax, keras.layers.Activation))
            and (isinstance(layer, keras.layers.Softmax) or _is_softmax(layer.activation))
        ):
            output = args[0]  # a separate softmax layer: its input are the logits
        elif layer is last and _is_softmax(getattr(layer, "activation", None)):
            saved = layer.activation
            layer.activation = keras.activations.linear  # same weights, scores before the softmax
            try:
                output = layer(*args, **kwargs)
            finally:
                layer.activation = saved
        else:
            output = layer(*args, **kwargs)
        if layer.name in wanted:
            recorded[layer.name], output = _float32_tap(output)
            if stop_after_taps and len(recorded) == len(wanted):
                raise _StopWalkError
        return output

    try:
        output = walk(model, images, run_layer)
    except _StopWalkError:
        return None, recorded
    missing = wanted - set(recorded)
    if missing:
        raise unknown_layer_error(model, sorted(missing)[0])
    return _float32_tap(output)[0], recorded
