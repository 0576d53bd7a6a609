"""Which layers the pictures use by default, for any Keras image classifier (InceptionV3 or not).

* Filter patterns: convolutions spread over the depth in given proportions (the blog's 3rd, 8th and
  40th of InceptionV3's 94 convolutions become the same fractions of any model's convolutions).
* Grad-CAM: the deepest layer every path to the classifier passes through (a *cut point*: a block's
  output, not a branch inside it) with a spatial output, skipping layers that are the identity at inference
  (a ``Dropout`` after the last pooling: the map is named after the pooling whose output it is); when that
  one has fewer than ``MINIMUM_CAM_CELLS`` cells a side at the model's input size, the deepest such layer
  that has them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras

from . import keras_internals
from . import layers as layer_tools
from .per_model import per_model_cache

UNEXPLAINED_TYPES = (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)  # the map would be of the padding
MINIMUM_CAM_CELLS = 5  # a map of 3x3 cells or fewer cannot say where in the photo the evidence is


def spread_convolutions(model, fractions: Sequence[float]) -> list[str]:
    """Convolutions at ``fractions`` of the depth: position ceil(fraction * count), 1-based, made
    strictly increasing (a small model gets its first, second, third... convolutions).

    Raises:
        ValueError: the model has no convolution.
    """
    names = layer_tools.convolution_names(model)
    if not names:
        raise ValueError(
            f"model {model.name!r} has no convolution for filter patterns; name layers with --filter-layers"
        )
    positions: list[int] = []
    for fraction in fractions:
        position = min(len(names), max(1, math.ceil(fraction * len(names) - 1e-9)))
        if positions and position <= positions[-1]:
            position = positions[-1] + 1
        if position > len(names):
            break
        positions.append(position)
    return [names[position - 1] for position in positions]


def _functional_cut_points(model) -> list:
    """Layers of a functional model (in depth order) that every path from its input to its output
    passes, the output layer included; bare operations and the input layer left out."""
    output = keras_internals.producing_layer(model.outputs[0]).name  # this model's own output node
    names = {*layer_tools.cut_points_before(model, output), output}
    return [layer for layer in model.layers if layer.name in names and not isinstance(layer, keras.layers.InputLayer)]


def cut_points(model) -> list:
    """Leaf layers every path to the output passes through, in depth order, inside nested models too."""
    members = list(model.layers) if isinstance(model, keras.Sequential) else _functional_cut_points(model)
    found = []
    for layer in members:
        found.extend(cut_points(layer) if isinstance(layer, keras.Model) else [layer])
    return found


def _cells(layer) -> int:
    height, width = layer.output.shape[1:3]
    return min(height or MINIMUM_CAM_CELLS, width or MINIMUM_CAM_CELLS)  # unknown sizes count as enough


@per_model_cache  # asked by the checks, the pointing game, the panels and the report
def choose_cam_layer(model) -> tuple[str, str]:
    """(layer name, why it was chosen) for Grad-CAM.

    Raises:
        ValueError: the model has no spatial layer to explain.
    """
    spatial = [
        layer
        for layer in cut_points(model)
        if layer_tools.has_4d_output(layer)
        and not isinstance(layer, UNEXPLAINED_TYPES)
        and not layer_tools.is_identity_at_inference(layer)  # its output is the layer's before it
    ]
    if not spatial:
        raise ValueError(f"model {model.name!r} has no layer with a (batch, height, width, channels) output to explain")
    deepest = spatial[-1]
    shape = "x".join(str(size) for size in deepest.output.shape[1:3])
    if _cells(deepest) >= MINIMUM_CAM_CELLS:
        return deepest.name, f"the deepest layer every path to the classifier passes through ({shape} cells)"
    enough = [layer for layer in spatial if _cells(layer) >= MINIMUM_CAM_CELLS]
    if not enough:
        return (
            deepest.name,
            f"the deepest layer every path to the classifier passes through ({shape} cells; none has more)",
        )
    chosen = enough[-1]
    chosen_shape = "x".join(str(size) for size in chosen.output.shape[1:3])
    return chosen.name, (
        f"{deepest.name} has only {shape} cells at this input size; {chosen.name} is the deepest layer every path "
        f"passes through with at least {MINIMUM_CAM_CELLS}x{MINIMUM_CAM_CELLS} ({chosen_shape})"
    )
