"""The classifier: InceptionV3 (flat) + the blog's head, with InceptionV3's input scaling inside.

The model takes raw RGB in [0, 255]; a ``Rescaling`` layer maps it to InceptionV3's [-1, 1], so a
saved model and its visualizations can never disagree about input scale.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras

from . import layer_choice
from . import layers as layer_tools

MINIMUM_IMAGE_SIZE = 75  # InceptionV3's smallest input side
# The blog's filter-pattern layers: InceptionV3's 3rd, 8th and 40th of its 94 convolutions, by position
# (never by Keras's auto-numbered names); other models get the same fractions of their own convolutions.
BLOG_FILTER_CONVOLUTIONS = (3, 8, 40)
INCEPTION_V3_CONVOLUTIONS = 94
PREPROCESS_LAYER = "inception_preprocess"
HEAD_LAYERS = ("head_pool", "head_dense", "head_dropout", "predictions")
IMAGENET_WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
IMAGENET_WEIGHTS_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/" + IMAGENET_WEIGHTS_FILE
)
IMAGENET_WEIGHTS_HASH = "bcbd6486424b2319ff4ef7d526e38f63"  # md5, as Keras checks it


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or str(Path("~/.keras").expanduser())
    return Path(home) / "models"


def resolve_weights(weights: str) -> str | None:
    """Turn ``--weights`` into what InceptionV3 loads: None, or a local file path.

    ``imagenet`` uses Keras's cached file, downloading it (Keras's own code path) when missing; a
    download failure becomes an error that says where to put the file.

    Args:
        weights: ``"imagenet"``, ``"none"`` or a path to a ``.h5`` / ``.weights.h5`` file.

    Returns:
        None for random initialisation, else the path of the weights file.

    Raises:
        FileNotFoundError: a weights path that does not exist.
        ValueError: a path without a ``.h5`` suffix.
        RuntimeError: ImageNet weights cannot be downloaded.
    """
    if weights is None or str(weights).lower() == "none":
        return None
    if str(weights).lower() == "imagenet":
        cached = keras_cache_dir() / IMAGENET_WEIGHTS_FILE
        if cached.is_file():
            return str(cached)
        try:
            return keras.utils.get_file(
                IMAGENET_WEIGHTS_FILE, IMAGENET_WEIGHTS_URL, cache_subdir="models", file_hash=IMAGENET_WEIGHTS_HASH
            )
        except Exception as error:  # any network or hash failure: say how to proceed offline
            raise RuntimeError(
                f"could not download the ImageNet weights for InceptionV3 ({type(error).__name__}: {error}).\n"
                f"To use them offline, download {IMAGENET_WEIGHTS_URL} on a machine with internet and put it at "
                f"{cached} (Keras's cache; set KERAS_HOME to move it), "
                f"or pass --weights /path/to/{IMAGENET_WEIGHTS_FILE}.\n"
                "Or train from scratch with --weights none."
            ) from error
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"--weights file {str(path)!r} does not exist (use imagenet, none, or a .h5 path)")
    if not path.name.endswith(".h5"):
        raise ValueError(f"--weights file {str(path)!r} must be a Keras .h5 or .weights.h5 file")
    return str(path)


def check_image_size(image_size: int) -> None:
    """Raise ValueError below InceptionV3's 75-pixel minimum."""
    if int(image_size) < MINIMUM_IMAGE_SIZE:
        raise ValueError(
            f"--image-size must be at least {MINIMUM_IMAGE_SIZE} (InceptionV3's minimum), got {image_size}"
        )


def build_model(
    num_classes: int,
    image_size: int = 299,
    weights_path: str | None = None,
    dense_units: int = 256,
    dropout: float = 0.5,
    batch_norm_momentum: float | None = None,
):
    """InceptionV3 without top + GlobalAveragePooling2D + Dense(256, relu) + Dropout + Dense(softmax).

    Built flat: InceptionV3 is instantiated on our input tensor, so its 311 layers are layers of the
    returned model and reachable by name (``mixed7``, ``conv2d_3``...).

    Args:
        num_classes: Outputs of the softmax layer.
        image_size: Side of the square input.
        weights_path: From ``resolve_weights``: None (random) or a weights file for the backbone.
        dense_units: Width of the hidden dense layer (the blog's 256).
        dropout: Dropout rate before the classifier.
        batch_norm_momentum: Overrides BatchNormalization's momentum (Keras: 0.99). 0.9 lets the
            moving statistics keep up when training from scratch on few steps.

    Returns:
        keras.Model: (batch, image_size, image_size, 3) raw RGB [0, 255] -> (batch, num_classes).
    """
    check_image_size(image_size)
    if num_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
    inputs = keras.Input((image_size, image_size, 3), name="image")  # raw RGB, 0-255
    scaled = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name=PREPROCESS_LAYER)(inputs)  # to [-1, 1]
    backbone = keras.applications.InceptionV3(include_top=False, weights=weights_path, input_tensor=scaled)
    features = keras.layers.GlobalAveragePooling2D(name="head_pool")(backbone.output)  # (batch, 2048)
    hidden = keras.layers.Dense(dense_units, activation="relu", name="head_dense")(features)
    hidden = keras.layers.Dropout(dropout, name="head_dropout")(hidden)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions", dtype="float32")(hidden)
    model = keras.Model(inputs, outputs, name="inception_v3_classifier")
    if batch_norm_momentum is not None:
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = batch_norm_momentum
    return model


def backbone_layers(model) -> list:
    """The InceptionV3 layers of a model from ``build_model`` (everything but input, scaling, head)."""
    skipped = (*HEAD_LAYERS, PREPROCESS_LAYER)
    return [
        layer for layer in model.layers if layer.name not in skipped and not isinstance(layer, keras.layers.InputLayer)
    ]


def freeze_backbone(model) -> None:
    """Phase 1: only the head trains."""
    for layer in backbone_layers(model):
        layer.trainable = False


def unfreeze_from(model, layer_name: str) -> list[str]:
    """Phase 2: train ``layer_name``'s inception block and everything above it; the rest stays
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
