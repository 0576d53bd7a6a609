"""A trained model on disk: ``model.keras`` with ``classes.json`` beside it, and the versions that made it."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import keras
import matplotlib
import numpy
import PIL
import tensorflow

from ..settings import outputs
from .heads import read_head

# ITU-R BT.601 luma, the weights of ``tf.image.rgb_to_grayscale`` (and of JPEG decoders asked for one channel)
LUMA_WEIGHTS = (0.2989, 0.5870, 0.1140)


class LumaFromRGB(keras.layers.Layer):
    """(n, H, W, 3) RGB -> (n, H, W, 1) grey by ``LUMA_WEIGHTS``: what a grayscale model sees of a colour photo.
    No weights (the randomisation check and the untrained twin leave it as it is); the geometry walk passes
    through it (a pointwise layer)."""

    def call(self, images):
        weights = keras.ops.convert_to_tensor(LUMA_WEIGHTS, dtype=images.dtype)
        return keras.ops.sum(images * weights, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 1)


def on_colour_photos(model):
    """A grayscale model (1 input channel) behind ``LumaFromRGB``, so that it takes the RGB photos every part of
    the run loads and draws on; its own layers keep their names (nested). A 3-channel model is returned as is.

    Raises:
        ValueError: any other channel count.
    """
    channels = model.input_shape[-1]
    if channels == 3:
        return model
    if channels != 1:
        raise ValueError(
            f"model {model.name!r} takes {channels}-channel images ({model.input_shape}); photos are read as RGB "
            "(3 channels) or, for a grayscale model, grey (1 channel): give a model that takes one of those"
        )
    photos = keras.Input((*model.input_shape[1:3], 3), name="rgb_photo")
    grey = LumaFromRGB(name="rgb_to_grayscale")(photos)
    return keras.Model(photos, model(grey), name=f"{model.name}_on_grey")


def without_optimizer(model):
    """A copy of ``model`` with its weights but not compiled: what ``OUT/model.keras`` holds, so the file a user
    shares is the size of the weights (a compiled model saves the optimizer's state too: Adam's two slots per
    weight tripled the demo's file). Resuming a killed run reads its own checkpoint, which keeps the optimizer.
    The copy is rebuilt from the model's config (layer names, dtypes and nesting kept; ``keras.models.clone_model``
    would compile it again, optimizer and all)."""
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy


def save_trained_model(model, classes: list[str], out_dir: Path) -> Path:
    """``OUT/model.keras`` (the weights without the optimizer's state: ``without_optimizer``; written under another
    name, then renamed) and ``OUT/classes.json`` beside it."""
    path = Path(out_dir) / outputs.MODEL
    temporary = path.with_name(outputs.MODEL_PARTIAL)
    without_optimizer(model).save(temporary)
    temporary.replace(path)
    outputs.write_json(Path(out_dir) / outputs.CLASSES, {"classes": classes})
    return path


def load_trained_model(path: Path, fallback_classes: list[str] | None = None):
    """A saved single-input image classifier (``.keras``, or legacy ``.h5``) and its class names.

    A one-output binary head is two classes (``heads``); a grayscale model (1 input channel) is returned behind
    ``LumaFromRGB`` (``on_colour_photos``), so it takes the RGB photos the run loads.

    Class names come from ``classes.json`` beside the model, else ``fallback_classes`` (the class
    folders of ``--data``), else ``class_0``, ``class_1``...

    Raises:
        FileNotFoundError: the model file is missing.
        ValueError: the class count differs from the model's outputs; the model has several inputs,
            or is not an image classifier ((batch, height, width, channels) in, (batch, classes) out);
            it needs custom objects to load; its input has neither 3 nor 1 channels; one softmax output.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--model {str(path)!r} does not exist")
    try:
        model = keras.models.load_model(path)
    except (TypeError, ValueError) as error:
        if "safe_mode" in str(error):
            raise ValueError(
                f"{str(path)!r} holds a Lambda layer with Python code, which Keras loads only from a file you trust: "
                "load it with keras.models.load_model(path, safe_mode=False) and pass the model to "
                "visconvnets.run.pictures.write_visualizations"
            ) from error
        if "custom" not in str(error).lower() and "Unknown" not in str(error):
            raise
        raise ValueError(
            f"{str(path)!r} uses a layer or function Keras does not know ({str(error).splitlines()[0]}); load it "
            "yourself with keras.models.load_model(path, custom_objects={...}) and pass the model to "
            "visconvnets.run.pictures.write_visualizations, or register the classes with "
            "@keras.saving.register_keras_serializable()"
        ) from error
    _check_classifier(model, path)
    try:
        head = read_head(model)
        model = on_colour_photos(model)
    except ValueError as error:
        raise ValueError(f"{str(path)!r}: {error}") from None
    return model, _class_names(path, head.classes, fallback_classes)


def sees_grey(model) -> bool:
    """Whether ``model`` is a grayscale model behind ``LumaFromRGB`` (``on_colour_photos``)."""
    return any(isinstance(layer, LumaFromRGB) for layer in model.layers)


def as_seen_by(model, pictures: numpy.ndarray) -> numpy.ndarray:
    """(..., 3) RGB pictures as ``model`` sees them, for drawing: grey (luma in all three channels, same dtype)
    for a grayscale model, unchanged otherwise (filter patterns and their crops are drawn so)."""
    if not sees_grey(model):
        return pictures
    luma = (numpy.asarray(pictures, numpy.float64) * numpy.asarray(LUMA_WEIGHTS)).sum(axis=-1, keepdims=True)
    return numpy.repeat(luma, 3, axis=-1).astype(numpy.asarray(pictures).dtype)


def model_notes(model, image_size: int) -> list[str]:
    """How the run reads a model that is not a plain RGB, fixed-size, softmax classifier, in words for the
    report (empty for this project's own models).

    Args:
        image_size: The side the run feeds it (``--image-size`` when the model takes any size).
    """
    notes = []
    head = read_head(model)
    if head.kind != "softmax":
        notes.append(f"output: {head.describe()}")
    if sees_grey(model):
        notes.append(
            "grayscale model: each photo is turned to grey (ITU-R BT.601 luma) in front of it; filter patterns and "
            "their crops are drawn in grey (what it sees), map overlays on the colour photo"
        )
    if model.input_shape[1] is None or model.input_shape[2] is None:
        notes.append(f"the model takes any input size: the run feeds it {image_size}x{image_size} (--image-size)")
    return notes


def input_side(model, default: int) -> int:
    """The square side the model takes, or ``default`` (``--image-size``) for a model of any input size.

    Raises:
        ValueError: a fixed input that is not square.
    """
    height, width = model.input_shape[1:3]
    if height is None or width is None:
        return int(default)
    if height != width:
        raise ValueError(
            f"model {model.name!r} takes {height}x{width} images; the run feeds square images: give a model with a "
            "square input (or any input size)"
        )
    return int(height)


def _check_classifier(model, path: Path) -> None:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"{str(path)!r} has {len(model.inputs)} input(s) and {len(model.outputs)} output(s); only single-input, "
            "single-output image classifiers can be explained"
        )
    if len(model.input_shape) != 4 or len(model.output_shape) != 2:
        raise ValueError(
            f"{str(path)!r} maps {model.input_shape} to {model.output_shape}; an image classifier maps "
            "(batch, height, width, channels) to (batch, classes)"
        )


def _class_names(path: Path, count: int, fallback_classes: list[str] | None) -> list[str]:
    classes_path = path.parent / outputs.CLASSES
    if classes_path.is_file():
        classes, source = json.loads(classes_path.read_text(encoding="utf-8"))["classes"], repr(str(classes_path))
    elif fallback_classes is not None:
        classes, source = list(fallback_classes), "--data's class folders"
    else:
        return [f"class_{index}" for index in range(count)]
    if len(classes) != count:
        raise ValueError(f"{source} lists {len(classes)} classes but the model outputs {count}")
    return classes


def library_versions() -> dict[str, str]:
    """Versions that decide what a run computes (saved in ``config.json``)."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
        "matplotlib": matplotlib.__version__,
    }


def write_run_config(path: Path, settings: dict, weights_file: str | None, classes: list[str]) -> None:
    """``OUT/config.json``: the resolved settings, library versions, weights file and class names."""
    content = {"config": settings, "versions": library_versions(), "weights_file": weights_file, "classes": classes}
    outputs.write_json(path, content)


def model_to_explain(model, out_dir: Path, classes: list[str], several_workers: bool):
    """The model every test number and picture comes from: the trained one, or, after training on several
    workers, ``OUT/model.keras`` loaded back outside the cluster (the chief explains alone; a model built
    under ``MultiWorkerMirroredStrategy`` would wait in ``predict`` for workers that have finished)."""
    if not several_workers:
        return model
    loaded, _ = load_trained_model(Path(out_dir) / outputs.MODEL, classes)
    return loaded
