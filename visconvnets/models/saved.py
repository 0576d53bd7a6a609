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


def save_trained_model(model, classes: list[str], out_dir: Path) -> Path:
    """``OUT/model.keras`` (written under another name, then renamed) and ``OUT/classes.json`` beside it."""
    path = Path(out_dir) / outputs.MODEL
    temporary = path.with_name(outputs.MODEL_PARTIAL)
    model.save(temporary)
    temporary.replace(path)
    outputs.write_json(Path(out_dir) / outputs.CLASSES, {"classes": classes})
    return path


def load_trained_model(path: Path, fallback_classes: list[str] | None = None):
    """A saved single-input image classifier (``.keras``, or legacy ``.h5``) and its class names.

    Class names come from ``classes.json`` beside the model, else ``fallback_classes`` (the class
    folders of ``--data``), else ``class_0``, ``class_1``...

    Raises:
        FileNotFoundError: the model file is missing.
        ValueError: the class count differs from the model's outputs; the model has several inputs,
            or is not an image classifier ((batch, height, width, channels) in, (batch, classes) out);
            it needs custom objects to load.
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
    return model, _class_names(path, int(model.output_shape[-1]), fallback_classes)


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
