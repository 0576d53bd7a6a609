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

from . import outputs


def save_trained_model(model, classes: list[str], out_dir: Path) -> Path:
    """``OUT/model.keras`` (written under another name, then renamed) and ``OUT/classes.json`` beside it."""
    path = Path(out_dir) / outputs.MODEL
    temporary = path.with_name(outputs.MODEL_PARTIAL)
    model.save(temporary)
    temporary.replace(path)
    outputs.write_json(Path(out_dir) / outputs.CLASSES, {"classes": classes})
    return path


def load_trained_model(path: Path):
    """A saved model and its class names (from ``classes.json`` beside it).

    Raises:
        FileNotFoundError: the model or its classes.json is missing.
        ValueError: the class count does not match the model's output.
    """
    path = Path(path)
    classes_path = path.parent / outputs.CLASSES
    if not classes_path.is_file():
        raise FileNotFoundError(
            f"{str(classes_path)!r} not found: class names travel beside the model; copy the classes.json "
            "written with it into the same folder"
        )
    model = keras.models.load_model(path)
    classes = json.loads(classes_path.read_text(encoding="utf-8"))["classes"]
    if model.output_shape[-1] != len(classes):
        raise ValueError(
            f"{str(classes_path)!r} lists {len(classes)} classes but the model outputs {model.output_shape[-1]}"
        )
    return model, classes


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
