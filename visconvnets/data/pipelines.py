"""``tf.data`` pipelines over image files, and the blog's augmentation as Keras preprocessing layers.

Images enter the model as raw RGB in [0, 255] (float32); the model itself scales them for its backbone.
Augmentation runs in the training pipeline only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import tensorflow as tf

from .images import load_image


def make_augmenter(rotation_degrees=20.0, shift=0.2, zoom=0.1, horizontal_flip=True, seed=None):
    """The blog's ImageDataGenerator augmentation as Keras preprocessing layers.

    Defaults: rotation 20 degrees, width/height shift 0.2, horizontal flip (the blog's), plus zoom
    0.1 (ours: mild scale jitter helps small data sets); ``fill_mode="nearest"`` as the blog's
    generator did. Input and output: (batch, height, width, 3) float32 in [0, 255].
    """
    layers = []
    if horizontal_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if rotation_degrees:
        layers.append(keras.layers.RandomRotation(rotation_degrees / 360.0, fill_mode="nearest", seed=seed))
    if shift:
        layers.append(keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, fill_mode="nearest", seed=seed))
    return keras.Sequential(layers, name="augmentation") if layers else None  # None: every kind turned off


def make_dataset(
    paths: Sequence[Path],
    labels: Sequence[int],
    image_size: int,
    batch_size: int,
    training: bool = False,
    augmenter=None,
    seed: int = 0,
    cache: bool | Path = True,
):
    """A batched, prefetched ``tf.data.Dataset`` of (images float32 [0, 255], labels int32).

    Args:
        paths, labels: Aligned image files and class indices.
        image_size: Side of the square the images are resized to.
        batch_size: Global batch size.
        training: Shuffle each epoch (seeded) and apply ``augmenter``.
        augmenter: A Keras layer/model from ``make_augmenter``, used only when ``training``.
        seed: Shuffle seed.
        cache: Keep decoded, resized images (uint8) after the first epoch: True in memory, a path on
            disk (files with that prefix), False not at all.

    Returns:
        Dataset of ((batch, image_size, image_size, 3) float32, (batch,) int32).
    """
    autotune = tf.data.AUTOTUNE
    dataset = tf.data.Dataset.from_tensor_slices(([str(path) for path in paths], [int(label) for label in labels]))
    dataset = dataset.map(
        lambda path, label: (load_image(path, image_size), tf.cast(label, tf.int32)),
        num_parallel_calls=autotune,
        deterministic=True,
    )
    if cache:
        dataset = dataset.cache("" if cache is True else str(cache))  # "" means in memory
    if training:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(lambda images, labels: (tf.cast(images, tf.float32), labels), num_parallel_calls=autotune)
    if training and augmenter is not None:
        dataset = dataset.map(
            lambda images, labels: (augmenter(images, training=True), labels), num_parallel_calls=autotune
        )
    return without_autotuning(dataset.prefetch(autotune))


def without_autotuning(dataset):
    """``dataset`` without tf.data's autotuning thread: in TF 2.21 deleting an iterator can wait for that
    thread's next wake-up, which comes as late as the iterator has lived (up to 60 s, at the end of each
    fit; BENCHMARKS.md). Every AUTOTUNE parallelism then runs at the core count; prefetch tunes its own buffer."""
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def cache_fits(count: int, image_size: int, limit_megabytes: float) -> bool:
    """Whether ``count`` uint8 images of ``image_size``² fit in ``limit_megabytes`` of cache."""
    return count * image_size * image_size * 3 <= limit_megabytes * 1024 * 1024
