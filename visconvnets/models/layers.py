"""Finding layers by name, glob or type, in flat models and in models that nest a backbone.

Shared machinery for training (``--fine-tune-from``) and every visualizer (``--layers``). Layers
are never chosen by index.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterator, Sequence

import keras

from . import keras_internals


def iter_layers(model) -> Iterator:
    """Every layer of ``model`` in depth order, descending into nested models (which are yielded
    too, before their own layers)."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from iter_layers(layer)


def layer_names(model) -> list[str]:
    """Names of every layer, nested ones included, in depth order."""
    return [layer.name for layer in iter_layers(model)]


def unknown_layer_error(model, name: str, what: str = "layer") -> ValueError:
    """A ValueError naming ``name`` and the nearest valid layer names."""
    names = layer_names(model)
    nearest = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    if nearest:
        hint = f"; nearest names: {', '.join(nearest)}"
    else:
        hint = f"; the model has {len(names)} layers, e.g. {', '.join(names[-5:])}"
    return ValueError(f"unknown {what} {name!r} in model {model.name!r}{hint}")


def find_layer(model, name: str):
    """The layer called ``name``, searching nested models too.

    Raises:
        ValueError: no such layer; the message lists the nearest names.
    """
    for layer in iter_layers(model):
        if layer.name == name:
            return layer
    raise unknown_layer_error(model, name)


def has_4d_output(layer) -> bool:
    """True when the layer outputs (batch, height, width, channels)."""
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return False
    return len(shape) == 4


# Layers that pass their input through unchanged at inference (``training=False``): dropout and noise, which
# act only in training, and the random augmentation layers (the Keras tutorials put them inside the model).
# A map or pattern "of" such a layer is of the layer before it, so the default choices skip them. Read by name
# so that a Keras without one of them still imports; RandomCrop is left out (at inference it crops to its size).
INFERENCE_IDENTITY_NAMES = (
    "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "AlphaDropout", "GaussianDropout",
    "GaussianNoise", "ActivityRegularization", "Identity",
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness",
    "RandomHue", "RandomSaturation", "RandomSharpness", "RandomShear", "RandomGrayscale", "RandomColorDegeneration",
    "RandomColorJitter", "RandomPosterization", "RandomInvert", "RandomErasing", "RandomGaussianBlur",
    "RandomElasticTransform", "RandomPerspective", "Solarization", "AugMix", "RandAugment", "CutMix", "MixUp",
)  # fmt: skip
INFERENCE_IDENTITY_TYPES = tuple(
    found for found in (getattr(keras.layers, name, None) for name in INFERENCE_IDENTITY_NAMES) if found is not None
)


def is_identity_at_inference(layer) -> bool:
    """Whether ``layer`` returns its input unchanged in inference mode (``INFERENCE_IDENTITY_NAMES``)."""
    return isinstance(layer, INFERENCE_IDENTITY_TYPES)


# What the grids show by default: every convolution (activations fused into it included) and activation.
DEFAULT_GRID_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Activation", "ReLU")
CONVOLUTION_TYPES = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")  # what "a convolution" means here


def select_layers(model, patterns: Sequence[str] | None) -> list[str]:
    """Names of the layers matching any pattern, in depth order, only those with a 4-D output.

    A pattern is a layer name (``mixed7``), a glob (``conv2d_*``, ``mixed?``) or a layer type
    (``Conv2D``, ``Activation``: a class name). None selects every layer of ``DEFAULT_GRID_TYPES``
    with a 4-D output (a model need not have all those types).

    Raises:
        ValueError: a pattern matches nothing (with the nearest names), an exact name has no 4-D
            output, or (no patterns) the model has no such layer.
    """
    layers = [layer for layer in iter_layers(model) if not _is_model(layer)]
    if not patterns:
        names = [layer.name for layer in layers if type(layer).__name__ in DEFAULT_GRID_TYPES and has_4d_output(layer)]
        if not names:
            raise ValueError(
                f"model {model.name!r} has no {', '.join(DEFAULT_GRID_TYPES)} layer with a (batch, height, width, "
                "channels) output; choose layers to show with --layers (names, globs or types)"
            )
        return names
    chosen: set[str] = set()
    for pattern in patterns:
        matched = [
            layer
            for layer in layers
            if layer.name == pattern or fnmatch.fnmatchcase(layer.name, pattern) or type(layer).__name__ == pattern
        ]
        if not matched:
            raise unknown_layer_error(model, pattern, "layer, glob or type")
        four_d = [layer for layer in matched if has_4d_output(layer)]
        if not four_d:
            shape = tuple(matched[0].output.shape)
            raise ValueError(
                f"layer {pattern!r} has output shape {shape}, not (batch, height, width, channels): "
                "it cannot be shown as a grid"
            )
        chosen.update(layer.name for layer in four_d)
    return [layer.name for layer in layers if layer.name in chosen]


def _is_model(layer) -> bool:
    return isinstance(layer, keras.Model)


def convolution_names(model) -> list[str]:
    """Names of every convolution (``CONVOLUTION_TYPES``), nested ones included, in depth order."""
    return [layer.name for layer in iter_layers(model) if type(layer).__name__ in CONVOLUTION_TYPES]


def conv_layers_by_position(model, positions: Sequence[int]) -> list[str]:
    """Names of the Conv2D layers at 1-based ``positions`` in depth order (not Keras's auto-names).

    Raises:
        ValueError: a position beyond the model's number of convolutions.
    """
    convolutions = convolution_names(model)
    for position in positions:
        if not 1 <= position <= len(convolutions):
            raise ValueError(
                f"convolution position {position} is out of range: the model has {len(convolutions)} convolutions"
            )
    return [convolutions[position - 1] for position in positions]


def parent_names(model) -> dict[str, list[str]]:
    """{layer or operation name: names of those feeding it} for a flat functional model."""
    return {operation.name: keras_internals.parent_layer_names(operation) for operation in graph_operations(model)}


def graph_operations(model) -> list:
    """Every node of a functional model's graph in depth order: its layers and the bare operations
    (``x + y``, ``keras.ops...``) between them, which ``model.layers`` leaves out."""
    return list(getattr(model, "operations", model.layers))


def _ancestors(parents: dict[str, list[str]], name: str) -> set[str]:
    seen, stack = set(), [name]
    while stack:
        for parent in parents[stack.pop()]:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def cut_points_before(model, name: str) -> list[str]:
    """Names, in depth order, of the nodes every path from the inputs to ``name`` passes through
    (``name`` itself left out): the outputs of the blocks below it, never a branch inside a block.

    Raises:
        ValueError: no such layer.
    """
    parents = parent_names(model)
    if name not in parents:
        raise unknown_layer_error(model, name)
    ancestors = _ancestors(parents, name)
    children: dict[str, list[str]] = {node: [] for node in parents}
    for child, child_parents in parents.items():
        for parent in child_parents:
            children[parent].append(child)
    sources = [node for node in ancestors if not parents[node]]
    cuts = []
    for candidate in (operation.name for operation in graph_operations(model) if operation.name in ancestors):
        # is `name` still reachable from the inputs without passing through `candidate`?
        seen = {candidate} | set(sources)
        stack = [source for source in sources if source != candidate]
        while stack:
            for child in children[stack.pop()]:
                if child not in seen and (child in ancestors or child == name):
                    seen.add(child)
                    stack.append(child)
        if name not in seen:
            cuts.append(candidate)
    return cuts


def block_start(model, name: str) -> str | None:
    """The layer every path to ``name`` goes through last: the input of the block ``name`` ends.

    In InceptionV3, ``block_start(model, "mixed9")`` is ``"mixed8"``: the four branches of block 9 all
    start from it. None when ``name`` has no such layer (it is the input).
    """
    cuts = cut_points_before(model, name)
    return cuts[-1] if cuts else None


def layers_from_block(model, name: str) -> list[str]:
    """Names of ``name``'s block and every layer above it (the layers ``--fine-tune-from name`` trains)."""
    start = block_start(model, name)
    frozen = set() if start is None else _ancestors(parent_names(model), start) | {start}
    return [layer.name for layer in model.layers if layer.name not in frozen]
