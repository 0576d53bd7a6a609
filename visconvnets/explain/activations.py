"""What every layer sees: layer outputs from one forward pass (arrays only; ``render.pictures`` draws them)."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from ..models import layers as layer_tools
from ..models.forward import count_passes, forward, input_spec
from ..models.per_model import PerModel

_CUT_MODELS = PerModel()  # (model, layer names) -> the model cut after them, traced


def layer_activations(model, images, layer_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Outputs of the named layers for a batch of images, from ONE forward pass.

    Args:
        model: Flat or nesting a backbone.
        images: (batch, height, width, 3) in the model's input scale (raw 0-255 RGB for this project's models).
        layer_names: Names, globs or layer types (see ``layers.select_layers``); None means every
            Conv2D and Activation layer with a 4-D output.

    Returns:
        {name: (batch, h, w, channels) float32}, in depth order.
    """
    names = layer_tools.select_layers(model, layer_names)
    images = np.asarray(images, dtype="float32")
    count_passes("forward", model, images.shape, names)
    _, recorded = forward(model, images, taps=names, stop_after_taps=True)
    return {name: np.asarray(recorded[name]) for name in names}


def traced_layer_outputs(model, layer_names: Sequence[str]) -> Callable:
    """The model cut after ``layer_names``, traced once (per model and names) with an open batch size, for
    passes over many batches (dataset examples, concepts): ``f(images (b, H, W, 3)) -> {name: (b, h, w, c)}``
    float32 tensors; the images must fit the model's input (a model with an open input size takes any)."""
    names = tuple(layer_names)
    for name in names:
        layer_tools.find_layer(model, name)  # an unknown name fails here, with the nearest names

    def make():
        reference = weakref.ref(model)  # read while tracing only

        @tf.function(autograph=False, input_signature=[input_spec(model)])
        def outputs(images):
            return forward(reference(), images, taps=names, stop_after_taps=True)[1]

        return outputs

    traced = _CUT_MODELS.get_or_make(model, names, make)

    def counted(images):
        count_passes("forward", model, images.shape, names)
        return traced(images)

    return counted
