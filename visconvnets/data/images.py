"""Image files into arrays (decoded and resized for the model, or at their own resolution for overlays), and
the one Gaussian blur of image batches (the filter ascent's regulariser, the faithfulness scores' canvas)."""

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


class ImageFiles:
    """Image files read as model input a batch at a time: ``len()``, and ``[slice]`` or ``[list of positions]``
    give (k, S, S, 3) float32 arrays (``load_images``), so a pass over many files never holds them all."""

    def __init__(self, paths: Sequence[Path], image_size: int):
        self.paths = [Path(path) for path in paths]
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, positions) -> np.ndarray:
        chosen = self.paths[positions] if isinstance(positions, slice) else [self.paths[int(i)] for i in positions]
        return load_images(chosen, self.image_size)


def load_original(path: Path) -> np.ndarray:
    """An image file at its own resolution: (height, width, 3) uint8 RGB (for overlays on the photo)."""
    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


def gaussian_blur(images, sigma: float) -> tf.Tensor:
    """(n, H, W, C) float32 images blurred by a separable Gaussian of ``sigma`` pixels (taps out to 3 sigma).

    Near the border the weights are renormalised over the pixels inside, so any sigma works and a flat
    image stays flat (zero padding would darken the edges). Works inside a traced function on images whose
    height and width are unknown until run.

    Args:
        images: (n, H, W, C) array or tensor.
        sigma: Standard deviation in pixels, > 0.

    Returns:
        (n, H, W, C) float32 tensor.
    """
    if not sigma > 0:
        raise ValueError(f"the blur's sigma must be positive, got {sigma}")
    tensor = tf.convert_to_tensor(images, tf.float32)
    radius = max(1, int(round(3 * sigma)))
    known_sides = [side for side in tensor.shape[1:3] if side is not None]
    if known_sides:
        radius = max(1, min(radius, max(known_sides)))  # no taps beyond the image
    taps = np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * sigma**2)).astype(np.float32)
    weight = tf.ones_like(tensor[..., :1])
    for shape in ((2 * radius + 1, 1), (1, 2 * radius + 1)):  # rows, then columns
        kernel = tf.reshape(tf.constant(taps), (*shape, 1, 1))
        tensor = tf.nn.depthwise_conv2d(
            tensor, tf.tile(kernel, (1, 1, tensor.shape[-1], 1)), strides=(1, 1, 1, 1), padding="SAME"
        )
        weight = tf.nn.depthwise_conv2d(weight, kernel, strides=(1, 1, 1, 1), padding="SAME")
    return tensor / weight
