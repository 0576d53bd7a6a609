"""Shared fixtures: tiny image trees and split folders, built in temporary folders (never downloaded)."""

from __future__ import annotations

import html.parser
import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One knob caps gradient-ascent steps everywhere in tests (read by visconvnets.explain.filters).
os.environ.setdefault("VISCONVNETS_MAX_STEPS", "8")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = PROJECT_ROOT.parent / "shared" / "flowers-sample"
TINY_CLASSES = ("daisy", "rose", "tulip")
CLASS_COLOURS = {"daisy": (235, 235, 225), "rose": (200, 30, 40), "tulip": (150, 60, 170)}


class _Links(html.parser.HTMLParser):
    def __init__(self, kinds):
        super().__init__()
        self.kinds, self.targets = kinds, []

    def handle_starttag(self, tag, attributes):
        for name, value in attributes:
            if (tag, name) in self.kinds and value and not value.startswith("#"):
                self.targets.append(value)


def report_links(page: Path) -> list[str]:
    """Every picture and link target of a report page (``img src``, ``a href``), anchors left out."""
    parser = _Links({("img", "src"), ("a", "href")})
    parser.feed(Path(page).read_text(encoding="utf-8"))
    return parser.targets


def report_pictures(page: Path) -> list[str]:
    """Every picture in a report page's markup (``img src``), in page order."""
    parser = _Links({("img", "src")})
    parser.feed(Path(page).read_text(encoding="utf-8"))
    return parser.targets


def make_class_tree(root: Path, images_per_class: int = 10, size: int = 64, seed: int = 0) -> Path:
    """Class folders of JPEGs: a coloured disc (the class's colour) on green noise, random position."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:size, 0:size]
    for class_name in TINY_CLASSES:
        folder = root / class_name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(images_per_class):
            pixels = np.empty((size, size, 3), np.float32)
            pixels[...] = (60, 120, 50)
            pixels += rng.normal(0, 18, pixels.shape)
            centre = rng.uniform(size * 0.3, size * 0.7, 2)
            radius = rng.uniform(size * 0.15, size * 0.3)
            disc = (rows - centre[0]) ** 2 + (columns - centre[1]) ** 2 < radius**2
            pixels[disc] = np.asarray(CLASS_COLOURS[class_name]) + rng.normal(0, 10, (disc.sum(), 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                folder / f"{class_name}_{index:03d}.jpg", quality=92
            )
    return root


@pytest.fixture(scope="session")
def tiny_split(tmp_path_factory) -> Path:
    """A split folder of 3 classes x 10 images (6 train, 2 validation, 2 test per class)."""
    from visconvnets.data.split import split_dataset

    base = tmp_path_factory.mktemp("tiny")
    make_class_tree(base / "source")
    split_dataset(base / "source", base / "split", workers=1)
    return base / "split"


@pytest.fixture(scope="session")
def small_model():
    """A tiny classifier with known geometry: (24, 24, 3) -> 3 classes.

    conv_a 3x3/2 valid -> conv_b 3x3/1 same -> pool 2x2/2 (average) -> conv_c 3x3/1 valid (+ReLU
    activation layer, 3x3 cells) -> global average -> Dense softmax. Cell j of conv_c sits at 4j + 6.
    """
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((24, 24, 3), name="pixels")
    x = keras.layers.Conv2D(6, 3, strides=2, padding="valid", name="conv_a")(inputs)
    x = keras.layers.Activation("relu", name="relu_a")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv_b")(x)
    x = keras.layers.AveragePooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(5, 3, padding="valid", name="conv_c")(x)
    x = keras.layers.Activation("relu", name="relu_c")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="scores")(x)
    return keras.Model(inputs, outputs, name="small")


@pytest.fixture(scope="session")
def inception_flat():
    """This project's flat classifier at 75 px, random weights (no download), the same weights on every
    pytest worker whatever ran before (the filter-ascent test's margin depends on them)."""
    import keras

    from visconvnets.models.build import build_model

    keras.utils.set_random_seed(0)
    return build_model(3, 75, None)


def tiny_config(data: Path, output: Path, **overrides):
    """Settings of a tiny run: 75 px, 2 epochs from scratch, batch 8, silent; filter patterns of 8
    filters at 75 px in one octave (the drawing is tested in test_visualization.py); no map scores."""
    from visconvnets.settings.config import RunConfig

    settings = dict(
        data=data,
        output=output,
        weights="none",
        image_size=75,
        epochs=2,
        batch_size=8,
        verbose=0,
        seed=1,
        filter_count=8,
        filter_size=75,
        filter_octaves=1,
        faithfulness=False,  # the scores have their own tests and the shared run below
        precision="float32",  # tiny runs gain nothing from bf16 (test_precision.py and the demo run cover it)
        backup_every=0.0,  # every epoch backed up (tiny epochs take seconds): the resume tests need them
    )
    settings.update(overrides)
    return RunConfig(**settings)


# the map scores, shrunk: few images, steps, and passes of the pixel methods (occlusion: 6 x 6 patches at 75 px)
SMALL_SCORES = {"faithfulness_images": 3, "method_images": 2, "faithfulness_steps": 4, "sanity_steps": 3}
SMALL_SCORES.update(ig_steps=4, smoothgrad_samples=2, rise_masks=16, occlusion_patch=25)


@pytest.fixture(scope="session")
def trained_run(tiny_split, tmp_path_factory):
    """One tiny training run with every visualization, shared by the tests that read its outputs."""
    from visconvnets.run import workflow

    output = tmp_path_factory.mktemp("run")
    metrics = workflow.run(tiny_config(tiny_split, output, faithfulness=True, tensorboard=True, **SMALL_SCORES))
    return output, metrics


# The --demo path, shrunk (with "output": the run's folder)
DEMO_OVERRIDES = {"demo_images_per_class": 8, "image_size": 75, "epochs": 1, "verbose": 0, "activation_images": 2}
DEMO_OVERRIDES.update(filter_count=4, **SMALL_SCORES)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The --demo path, shrunk: 8 synthetic flowers per class at 75 px, one epoch."""
    from visconvnets.run import workflow
    from visconvnets.settings.config import demo_preset

    output = tmp_path_factory.mktemp("demo")
    metrics = workflow.run(demo_preset(**DEMO_OVERRIDES, output=output))
    return output, metrics


# --- helpers several test modules share


def red_reader(side: int = 32, quadrant: bool = True):
    """A two-class softmax whose class 0 logit is 4 x the mean red (0-1) of the top-left quadrant (``quadrant``)
    or of the whole image, - 2; class 1's is 0: what a map must find, known by construction."""
    import keras

    inputs = keras.Input((side, side, 3))
    read = keras.layers.Cropping2D(((0, side // 2), (0, side // 2)))(inputs) if quadrant else inputs
    pooled = keras.layers.GlobalAveragePooling2D()(read)  # (n, 3) mean colour of what it reads
    scores = keras.layers.Dense(2, activation="softmax", name="scores")(pooled)
    model = keras.Model(inputs, scores)
    kernel = np.zeros((3, 2), np.float32)
    kernel[0, 0] = 4.0 / 255.0
    model.get_layer("scores").set_weights([kernel, np.asarray([-2.0, 0.0], np.float32)])
    return model


def random_images(count: int, size: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype("float32")


def image_bytes(seed: int, image_format: str = "JPEG", mode: str = "RGB", size=(24, 20)) -> bytes:
    """A small random image encoded in ``image_format``; different seeds give different bytes."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    picture = Image.fromarray(pixels).convert(mode)
    buffer = io.BytesIO()
    picture.save(buffer, image_format)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def tiny_script_command(data: Path, output: Path, *extra: str) -> list[str]:
    """The training script on the tiny split: 75 px, one epoch from scratch, batch 8, no pictures; VGG16,
    whose 21-layer graph traces in seconds (InceptionV3's takes 15-35 s, and more under a strategy)."""
    flags = "--weights none --image-size 75 --epochs 1 --batch-size 8 --verbose 2 --no-validation --no-activations"
    flags += " --backbone VGG16 --backup-every 0"  # every epoch backed up: the resume tests need them
    return [
        sys.executable,
        str(PROJECT_ROOT / "model_training_and_visualization.py"),
        "--data",
        str(data),
        "--output",
        str(output),
        *flags.split(),
        "--no-filters",
        "--no-gradcam",
        *extra,
    ]
