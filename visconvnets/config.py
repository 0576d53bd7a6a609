"""Every setting of a run, with its default and why; saved resolved to ``OUT/config.json``."""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
from pathlib import Path

from .visualize import VisualizationConfig


@dataclasses.dataclass
class RunConfig(VisualizationConfig):
    """Every setting of model_training_and_visualization.py; the visualization settings (images,
    layers, filters, Grad-CAM) are inherited from ``visualize.VisualizationConfig``, defaults and
    reasons there."""

    # --- data and outputs
    data: Path | None = None  # split folder written by create_train_val_test.py (train/ validation/ test/)
    output: Path = Path("outputs")  # everything a run writes goes here
    model: Path | None = None  # a saved OUT/model.keras: skip training, evaluate/visualise it
    boxes: Path | None = None  # boxes.csv of the source images (path,class,x0,y0,x1,y1): scores Grad-CAM by the pointing game
    demo: bool = False  # generate the built-in synthetic flowers, split, train from scratch, report
    demo_images_per_class: int = 92  # synthetic pictures per class (60 train, 14 validation, 18 test)
    check_images: bool = True  # fully decode every file before training; bad ones are skipped and reported
    cache_limit_mb: float = 4096  # cache decoded images in memory when they fit in this many MB
    # --- model
    weights: str = "imagenet"  # imagenet | none | PATH to a .h5/.weights.h5 backbone file
    image_size: int = 299  # the blog's 299x299; InceptionV3 needs at least 75
    dense_units: int = 256  # the blog's head: Dense(256, relu)
    dropout: float = 0.5  # dropout before the classifier
    batch_norm_momentum: float | None = None  # None: 0.9 when training from scratch (few steps), else Keras's 0.99
    # --- training
    epochs: int = 10  # the blog's 10: phase 1 (head) with pretrained weights, all training from scratch
    fine_tune_epochs: int = 5  # phase 2 with pretrained weights
    batch_size: int = 32  # the blog's 32 (global batch under a distribution strategy)
    learning_rate: float = 1e-3  # Adam, phase 1 or from scratch
    fine_tune_learning_rate: float = 1e-5  # Adam, phase 2: low, so the pretrained features are not wrecked
    lr_schedule: str = "constant"  # constant | cosine (decays to 0 over each phase)
    fine_tune_from: str = "mixed9"  # phase 2 trains this layer's inception block and above (top two blocks)
    patience: int = 5  # early stopping on validation accuracy, best weights restored
    validation: bool = True  # evaluate on validation/ each epoch (needed for checkpoint and early stopping)
    rotation: float = 20.0  # augmentation: degrees (the blog's)
    shift: float = 0.2  # augmentation: width and height shift fraction (the blog's)
    zoom: float = 0.1  # augmentation: zoom fraction (ours; the blog had none)
    horizontal_flip: bool = True  # augmentation (the blog's)
    seed: int = 42  # seeds Python, NumPy, TensorFlow and the shuffle
    restart: bool = False  # discard an unfinished run's state in OUT and train from the start
    # --- hardware
    distribute: str = "none"  # none | mirrored (all local GPUs, else logical CPUs) | multiworker (TF_CONFIG)
    logical_cpus: int = 0  # split the CPU into this many logical devices (tests MirroredStrategy on CPU)
    mixed_precision: bool = False  # mixed_float16 for GPUs
    verbose: int = 1  # Keras progress: 0 silent, 1 progress bar, 2 one line per epoch

    def to_json(self) -> dict:
        return {key: (str(value) if isinstance(value, Path) else value) for key, value in dataclasses.asdict(self).items()}


TRAINING_KEYS = (
    "data", "weights", "image_size", "dense_units", "dropout", "batch_norm_momentum", "epochs", "fine_tune_epochs",
    "batch_size", "learning_rate", "fine_tune_learning_rate", "lr_schedule", "fine_tune_from", "seed",
)


def library_versions() -> dict[str, str]:
    """Versions that decide what a run computes."""
    import keras
    import matplotlib
    import numpy
    import PIL
    import tensorflow

    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "tensorflow": tensorflow.__version__,
        "keras": keras.__version__, "numpy": numpy.__version__, "pillow": PIL.__version__, "matplotlib": matplotlib.__version__,
    }


def write_json(path: Path, payload: dict) -> Path:
    """Write JSON atomically (temporary file, then rename)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    temporary.replace(path)
    return path
