"""Shared fixtures: tiny image trees and split folders, built in temporary folders (never downloaded)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One knob caps gradient-ascent steps everywhere in tests (read by visconvnets.filters).
os.environ.setdefault("VISCONVNETS_MAX_STEPS", "8")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = PROJECT_ROOT.parent / "shared" / "flowers-sample"
TINY_CLASSES = ("daisy", "rose", "tulip")
CLASS_COLOURS = {"daisy": (235, 235, 225), "rose": (200, 30, 40), "tulip": (150, 60, 170)}


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
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"{class_name}_{index:03d}.jpg", quality=92)
    return root


@pytest.fixture(scope="session")
def tiny_split(tmp_path_factory) -> Path:
    """A split folder of 3 classes x 10 images (6 train, 2 validation, 2 test per class)."""
    from visconvnets.split import split_dataset

    base = tmp_path_factory.mktemp("tiny")
    make_class_tree(base / "source")
    split_dataset(base / "source", base / "split", workers=1)
    return base / "split"
