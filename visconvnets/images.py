"""Image files into arrays: decoded and resized for the model, or at their own resolution for overlays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image


def load_image(path, image_size: int):
    """Read and decode one image file as uint8 (image_size, image_size, 3), resized like the blog's
    ``target_size`` (bilinear, aspect not kept). GIFs give their first frame."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    image = tf.image.resize(image, (image_size, image_size), method="bilinear")
    return tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)


def load_images(paths: Sequence[Path], image_size: int):
    """Decode files into one array (n, image_size, image_size, 3) float32 in [0, 255] for visualization.

    Raises:
        FileNotFoundError: a path does not exist (named).
        ValueError: a file cannot be decoded (named).
    """
    images = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"image {str(path)!r} does not exist")
        try:
            images.append(load_image(str(path), image_size).numpy())
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(f"cannot decode image {str(path)!r}: {error.message.splitlines()[0]}") from error
    return np.stack(images).astype("float32") if images else np.zeros((0, image_size, image_size, 3), "float32")


def load_original(path: Path) -> np.ndarray:
    """An image file at its own resolution: (height, width, 3) uint8 RGB (for overlays on the photo)."""
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))
