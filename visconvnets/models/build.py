"""The classifier: a ``keras.applications`` backbone (flat) + the blog's head, preprocessing inside.

The model takes raw RGB in [0, 255]; the family's own preprocessing (``backbones.PREPROCESSING``) is
part of it, so a saved model and its visualizations can never disagree about input scale. InceptionV3,
the blog's, is the default; ``backbones.BACKBONES`` lists the others.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import keras

from ..settings.backbones import CAFFE_MEAN, DEFAULT_BACKBONE, TORCH_MEAN, TORCH_STD, Backbone, get_backbone
from . import layer_choice
from . import layers as layer_tools

# The blog's filter-pattern layers: InceptionV3's 3rd, 8th and 40th of its 94 convolutions, by position
# (never by Keras's auto-numbered names); other models get the same fractions of their own convolutions.
BLOG_FILTER_CONVOLUTIONS = (3, 8, 40)
INCEPTION_V3_CONVOLUTIONS = 94
PREPROCESS_LAYER = "preprocess"  # our scaling layer (tf, caffe and torch families)
HEAD_LAYERS = ("head_pool", "head_dense", "head_dropout", "predictions")


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or str(Path("~/.keras").expanduser())
    return Path(home) / "models"


def resolve_weights(weights: str, backbone: str | Backbone = DEFAULT_BACKBONE) -> str | None:
    """Turn ``--weights`` into what the backbone loads: None, or a local file path.

    ``imagenet`` uses Keras's cached file, downloading it with Keras's own loader (``get_file``, the
    file name, address and hash ``keras.applications`` uses) when missing; a download failure becomes
    an error that says where to put the file.

    Args:
        weights: ``"imagenet"``, ``"none"`` or a path to a ``.h5`` / ``.weights.h5`` file.
        backbone: A ``backbones.BACKBONES`` name, or its ``Backbone``.

    Returns:
        None for random initialisation, else the path of the weights file.

    Raises:
        FileNotFoundError: a weights path that does not exist.
        ValueError: a path without a ``.h5`` suffix, or an unknown backbone.
        RuntimeError: ImageNet weights cannot be downloaded.
    """
    backbone = get_backbone(backbone)
    if weights is None or str(weights).lower() == "none":
        return None
    if str(weights).lower() == "imagenet":
        cached = keras_cache_dir() / backbone.weights_file
        if cached.is_file():
            return str(cached)
        try:
            return keras.utils.get_file(
                backbone.weights_file, backbone.weights_url, cache_subdir="models", file_hash=backbone.weights_hash
            )
        except Exception as error:  # any network or hash failure: say how to proceed offline
            raise RuntimeError(
                f"could not download the ImageNet weights for {backbone.name} ({type(error).__name__}: {error}).\n"
                f"To use them offline, download {backbone.weights_url} on a machine with internet and put it at "
                f"{cached} (Keras's cache; set KERAS_HOME to move it), "
                f"or pass --weights /path/to/{backbone.weights_file}.\n"
                "Or train from scratch with --weights none."
            ) from error
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"--weights file {str(path)!r} does not exist (use imagenet, none, or a .h5 path)")
    if not path.name.endswith(".h5"):
        raise ValueError(f"--weights file {str(path)!r} must be a Keras .h5 or .weights.h5 file")
    return str(path)


def check_image_size(image_size: int, backbone: str | Backbone = DEFAULT_BACKBONE) -> None:
    """Raise ValueError below the backbone's minimum input side (InceptionV3: 75)."""
    backbone = get_backbone(backbone)
    if int(image_size) < backbone.minimum_size:
        raise ValueError(f"--image-size must be at least {backbone.minimum_size} for {backbone.name}, got {image_size}")


def _preprocessed(inputs, backbone: Backbone):
    """The family's scaling of raw RGB 0-255 as layers without weights (so Keras's weight files, read
    in layer order, still line up). Built-in families scale inside the backbone."""
    if backbone.preprocessing == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=PREPROCESS_LAYER)(inputs)  # to [-1, 1]
    if backbone.preprocessing == "caffe":  # means subtracted; BGR is folded into the first convolution
        return keras.layers.Normalization(mean=list(CAFFE_MEAN), variance=[1.0] * 3, name=PREPROCESS_LAYER)(inputs)
    if backbone.preprocessing == "torch":
        variance = [std**2 for std in TORCH_STD]
        return keras.layers.Normalization(mean=list(TORCH_MEAN), variance=variance, name=PREPROCESS_LAYER)(inputs)
    return inputs


def _fold_bgr(model, backbone: Backbone) -> None:
    """Caffe-style weights read BGR: reverse the first convolution's input channels so it reads RGB."""
    layer = model.get_layer(backbone.first_convolution)
    kernel, *rest = layer.get_weights()  # kernel: (height, width, 3 input channels, filters)
    layer.set_weights([kernel[:, :, ::-1, :], *rest])


@contextlib.contextmanager
def dtype_policy(name: str):
    """Layers built inside compute in ``name`` (a Keras dtype policy: float32, mixed_bfloat16...);
    Keras's global policy is put back afterwards, so nothing else in the process changes."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def build_model(
    num_classes: int,
    image_size: int = 299,
    weights_path: str | None = None,
    dense_units: int = 256,
    dropout: float = 0.5,
    batch_norm_momentum: float | None = None,
    backbone: str | Backbone = DEFAULT_BACKBONE,
    precision: str = "float32",
):
    """A backbone without top + GlobalAveragePooling2D + Dense(256, relu) + Dropout + Dense(softmax).

    Built flat: the backbone is instantiated on our input tensor, so its layers are layers of the
    returned model and reachable by name (``mixed7``, ``conv5_block3_out``...).

    Args:
        num_classes: Outputs of the softmax layer.
        image_size: Side of the square input.
        weights_path: From ``resolve_weights``: None (random) or a weights file for the backbone.
        dense_units: Width of the hidden dense layer (the blog's 256).
        dropout: Dropout rate before the classifier.
        batch_norm_momentum: Overrides BatchNormalization's momentum (Keras: 0.99). 0.9 lets the
            moving statistics keep up when training from scratch on few steps.
        backbone: A ``backbones.BACKBONES`` name, case-insensitive (the blog's InceptionV3), or its ``Backbone``.
        precision: Keras dtype policy of every layer (``mixed_bfloat16``: weights float32, compute
            bfloat16); the softmax layer is float32 whatever the policy.

    Returns:
        keras.Model: (batch, image_size, image_size, 3) raw RGB [0, 255] -> (batch, num_classes).
    """
    backbone = get_backbone(backbone)
    check_image_size(image_size, backbone)
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    with dtype_policy(precision):
        inputs = keras.Input((image_size, image_size, 3), name="image")  # raw RGB, 0-255
        options = {"include_preprocessing": True} if backbone.builds_own_preprocessing else {}
        features = getattr(keras.applications, backbone.name)(
            include_top=False, weights=weights_path, input_tensor=_preprocessed(inputs, backbone), **options
        ).output  # (batch, h, w, channels)
        features = keras.layers.GlobalAveragePooling2D(name="head_pool")(features)  # (batch, channels)
        hidden = keras.layers.Dense(dense_units, activation="relu", name="head_dense")(features)
        hidden = keras.layers.Dropout(dropout, name="head_dropout")(hidden)
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(hidden)
        model = keras.Model(inputs, outputs, name=f"{backbone.name.lower()}_classifier")
    if weights_path is not None and backbone.first_convolution:
        _fold_bgr(model, backbone)
    if batch_norm_momentum is not None:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = batch_norm_momentum
    return model


def backbone_layers(model) -> list:
    """The backbone layers of a model from ``build_model`` (everything but input, our scaling, head)."""
    skipped = (*HEAD_LAYERS, PREPROCESS_LAYER)
    return [
        layer for layer in model.layers if layer.name not in skipped and not isinstance(layer, keras.layers.InputLayer)
    ]


def freeze_backbone(model) -> None:
    """Phase 1: only the head trains."""
    for layer in backbone_layers(model):
        layer.trainable = False


def unfreeze_from(model, layer_name: str) -> list[str]:
    """Phase 2: train ``layer_name``'s block and everything above it; the rest stays
    frozen and every BatchNormalization layer stays frozen, which in Keras 3 also keeps it in
    inference mode (moving statistics used, not updated).

    Returns:
        Names of the backbone layers now trainable.

    Raises:
        ValueError: unknown layer name (with the nearest names).
    """
    layer_tools.find_layer(model, layer_name)
    above = set(layer_tools.layers_from_block(model, layer_name))
    trainable = []
    for layer in backbone_layers(model):
        layer.trainable = layer.name in above and not isinstance(layer, keras.layers.BatchNormalization)
        if layer.trainable:
            trainable.append(layer.name)
    return trainable


def default_filter_layers(model) -> list[str]:
    """The blog's filter-pattern layers: the 3rd, 8th and 40th convolutions of InceptionV3, the same
    fractions of the depth in any other model."""
    fractions = [position / INCEPTION_V3_CONVOLUTIONS for position in BLOG_FILTER_CONVOLUTIONS]
    return layer_choice.spread_convolutions(model, fractions)
