"""One forward pass that can read any layer, in flat models and in models that nest a backbone.

``keras.Model(model.inputs, inner_layer.output)`` fails with "Graph disconnected" when the layer
lives in a nested model (``Sequential([InceptionV3(...), GlobalAveragePooling2D(), Dense(...)])``).
Instead we walk the model's own graph, layer by layer, descending into nested models, and record
the outputs we were asked for. The same walk carries other values than tensors (``receptive_field``
sends stride/offset pairs through it).
"""

from __future__ import annotations

import functools
import inspect
import weakref
from collections.abc import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from ..settings.config import PICTURE_BATCH_SIZE
from . import keras_internals, passes
from .heads import final_layer, layer_squashing, probabilities_from_outputs, read_head, scores_from_pre_activation
from .layers import unknown_layer_error
from .per_model import PerModel

PERTURBED_BATCH_SIZE = 2 * PICTURE_BATCH_SIZE  # masked/deleted images per predict call when the input size is open
# pixels per predict call of masked/deleted images (no gradients): 128 images at 128 px, 93 at 150, 23 at 299
# (larger batches run faster: BENCHMARKS.md)
PERTURBED_PIXELS = 128 * 128 * 128


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


@functools.cache
def _takes_training(layer_type: type) -> bool:
    """Whether ``layer_type.call`` has a ``training`` argument (Keras's own test, on the public signature)."""
    return "training" in inspect.signature(layer_type.call).parameters


def call_in_inference(layer, *args, **kwargs):
    """``layer(*args, **kwargs)`` in inference mode, as ``model(x, training=False)`` calls it: ``training=False``
    wherever the layer's ``call`` takes it, overriding a ``training=`` saved in the graph. Keras 3's random
    augmentation layers default to ``training=True`` when called alone, so a walk that left it out would flip,
    rotate and zoom every image; Dropout, noise and BatchNormalization would be right only by their defaults.
    Layers inside a layer that takes ``training`` inherit it through Keras's call context."""
    if _takes_training(type(layer)):
        kwargs["training"] = False
    return layer(*args, **kwargs)


_PREDICTORS = PerModel()  # model -> its traced inference call


def input_spec(model) -> tf.TensorSpec:
    """(None, H, W, C) float32 from the model's input, open where the model is (any batch size)."""
    inputs = getattr(model, "inputs", None)
    shape = tuple(inputs[0].shape[1:]) if inputs else (None, None, 3)
    return tf.TensorSpec((None, *shape), tf.float32)


def fits(spec: tf.TensorSpec, images) -> bool:
    """Whether ``images`` (n, H, W, C) match ``spec``, a traced call's input (else the caller runs eagerly)."""
    return spec.is_compatible_with(tf.TensorSpec(np.shape(images), tf.float32))


def _predictor(model) -> Callable:
    """The model's inference call traced once with an open batch size (Keras's ``predict_on_batch`` traces
    again for every new batch shape: 2 s each for InceptionV3), made once per model, held as long as it is."""

    def make():
        reference = weakref.ref(model)  # read while tracing only

        @tf.function(autograph=False, input_signature=[input_spec(model)])
        def predict(images):
            return reference()(images, training=False)

        return predict

    return _PREDICTORS.get_or_make(model, None, make)


def _multiply_adds(layer) -> float:
    """A layer's multiply-adds per image: every kernel's size (weights of 2 or more dimensions) times the cells
    of its output (1 without a spatial grid); 0 for a layer without kernels (their work is not counted)."""
    kernels = sum(int(np.prod(weight.shape)) for weight in layer.weights if len(weight.shape) >= 2)
    if not kernels:
        return 0.0
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError):  # a layer called more than once has no single output
        shape = ()
    cells = shape[1] * shape[2] if len(shape) == 4 and shape[1] and shape[2] else 1
    return float(kernels * cells)


_WORK = PerModel()  # model -> {layer name: multiply-adds of the layers walked up to and including it}


def _cumulative_work(model) -> dict[str, float]:
    def make():
        total, found = [0.0], {}

        def visit(layer, *args, **kwargs):
            total[0] += _multiply_adds(layer)
            found[layer.name] = total[0]
            return args[0] if args else None

        walk(model, 0.0, visit)
        return found

    return _WORK.get_or_make(model, None, make)


def work_share(model, taps: Iterable[str] = ()) -> float:
    """The share of ``model``'s multiply-adds a pass stopped after ``taps`` runs (1.0 with no taps, or when the
    model's work cannot be read)."""
    if not taps:
        return 1.0
    try:
        found = _cumulative_work(model)
    except (AttributeError, KeyError, TypeError, ValueError):  # a graph the walk cannot read: whole passes
        return 1.0
    total = max(found.values(), default=0.0)
    reached = [found[name] for name in taps if name in found]
    if not total or not reached:
        return 1.0
    return max(reached) / total


def count_passes(kind: str, model, images_shape, taps: Iterable[str] = ()) -> None:
    """Count a pass of ``kind`` (``passes.KINDS``) over images of ``images_shape`` (n, H, W, C): n images, times
    their pixels against the model's input (1 where its size is open), times the work up to ``taps``."""
    count, height, width = images_shape[0], images_shape[1], images_shape[2]
    expected = input_spec(model).shape[1:3]
    size = (height * width) / (expected[0] * expected[1]) if all(expected) and height and width else 1.0
    passes.add(kind, count * size * work_share(model, tuple(taps)))


def probabilities(model, images) -> np.ndarray:
    """(n, classes) probabilities of one batch through the model's traced inference call (traced once per
    model and reused: the scores run many batches of several sizes), read as its head says
    (``heads.probabilities_from_outputs``: logits get a softmax, a one-output binary head two columns).

    Args:
        images: (n, H, W, C) in the model's input scale.
    """
    images = np.asarray(images, np.float32)
    count_passes("forward", model, images.shape)
    predict = _predictor(model)
    if fits(predict.input_signature[0], images):
        outputs = predict(tf.constant(images))
    else:  # images of another size than the model's input
        outputs = model.predict_on_batch(images)
    return probabilities_from_outputs(read_head(model), outputs)


def perturbed_batch_size(model) -> int:
    """Images per predict call of perturbed images: ``PERTURBED_PIXELS`` worth at the model's input size
    (16 to 128 images), ``PERTURBED_BATCH_SIZE`` when the size is open."""
    height, width = input_spec(model).shape[1:3]
    if not height or not width:
        return PERTURBED_BATCH_SIZE
    return int(np.clip(PERTURBED_PIXELS // (height * width), 16, 128))


def class_probabilities(model, count: int, make_batch: Callable, class_indices: np.ndarray) -> np.ndarray:
    """(count,) probability of each of ``count`` images for its own class, run in batches of
    ``perturbed_batch_size(model)``.

    Args:
        make_batch: ``make_batch(start, stop)`` -> (stop - start, H, W, 3) images: built a batch at a time,
            so many perturbed copies of each image never sit in memory at once.
        class_indices: (count,) the class of each.
    """
    found, batch_size = np.empty(count, np.float64), perturbed_batch_size(model)
    for start in range(0, count, batch_size):
        stop = min(count, start + batch_size)
        found[start:stop] = probabilities(model, make_batch(start, stop))[
            np.arange(stop - start), class_indices[start:stop]
        ]
    return found


def _float32_tap(output):
    """(float32 tensor to record, tensor to pass on). A mixed-precision model's 16-bit activations are
    recorded as float32, and the walk goes on from that copy, so gradients reach the recorded tensor."""
    if keras.backend.standardize_dtype(output.dtype) in ("bfloat16", "float16"):
        recorded = keras.ops.cast(output, "float32")
        return recorded, keras.ops.cast(recorded, output.dtype)
    return output, output


def _is_relu(function) -> bool:
    return function is keras.activations.relu or getattr(function, "__name__", "") == "relu"


def _without_activation(layer, args, kwargs):
    """The layer's output with its fused activation left out (the same weights), in inference mode."""
    saved = layer.activation
    layer.activation = keras.activations.linear
    try:
        return call_in_inference(layer, *args, **kwargs)
    finally:
        layer.activation = saved


def _relu_layer(layer) -> bool:
    """A plain ``ReLU`` layer or an ``Activation("relu")``."""
    return _plain_relu(layer) or (isinstance(layer, keras.layers.Activation) and _is_relu(layer.activation))


def _plain_relu(layer) -> bool:
    """A ``ReLU`` layer that is the plain max(x, 0) (no cap, no slope, no threshold)."""
    return (
        isinstance(layer, keras.layers.ReLU)
        and layer.max_value is None
        and not layer.negative_slope
        and not layer.threshold
    )


def forward(
    model,
    images,
    taps: Iterable[str] = (),
    logits: bool = False,
    stop_after_taps: bool = False,
    replace_relu: Callable | None = None,
    tap_relu: Callable | None = None,
):
    """Run ``model`` on ``images`` and record the outputs of the layers named in ``taps``.

    Args:
        model: A Keras model, flat or nesting other models.
        images: (batch, height, width, 3) float32 in the model's input scale.
        taps: Names of layers whose outputs to record (any depth of nesting).
        logits: Return class scores (n, classes): a final softmax or sigmoid is left out (the scores before it),
            and a one-output binary head becomes (-z, z) (``heads``).
        stop_after_taps: Stop as soon as every tap is computed (a sub-model that ends at the layer).
        replace_relu: A function run in place of every ReLU (``Activation("relu")``, plain ``ReLU`` layers and
            activations fused into a layer): guided backpropagation's ReLU with its own gradient.
        tap_relu: A function run in place of the ReLU of each tapped layer that ends in one (fused,
            ``Conv2D(..., activation="relu")``, or a ReLU layer), before ``replace_relu``: the feature
            visualisation's objective with a gradient where the unit is off. Other taps are as they are.

    Returns:
        (output, {name: tensor}): output is the model's output, or (batch, classes) class scores when
        ``logits``; None when the walk stopped early. Every tensor is float32, whatever the
        model's precision.
    """
    wanted = set(taps)
    recorded: dict = {}
    last = final_layer(model) if logits else None
    squashed = last is not None and layer_squashing(last) is not None

    def run_layer(layer, *args, **kwargs):
        relu = tap_relu if tap_relu is not None and layer.name in wanted else replace_relu  # None: the model's own
        if layer is last and squashed and isinstance(layer, (keras.layers.Softmax, keras.layers.Activation)):
            output = args[0]  # a separate softmax or sigmoid layer: its input are the scores
        elif layer is last and squashed:
            output = _without_activation(layer, args, kwargs)  # the scores before the softmax or sigmoid
        elif relu is not None and _relu_layer(layer):
            output = relu(args[0])
        elif relu is not None and _is_relu(getattr(layer, "activation", None)):
            output = relu(_without_activation(layer, args, kwargs))  # the ReLU fused into the layer replaced
        else:
            output = call_in_inference(layer, *args, **kwargs)
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
    output = _float32_tap(output)[0]
    return (scores_from_pre_activation(read_head(model), output) if logits else output), recorded
