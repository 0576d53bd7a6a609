"""Concepts a class is recognised by, CRAFT-style (Fel et al. 2023, "CRAFT: Concept Recursive Activation
FacTorization for Explainability"), arrays only.

1. Random crops of a class's images, each resized to the model's input, are run to a layer; each crop's
   activations are averaged over the cells: A (crops, channels), non-negative after a ReLU.
2. Non-negative matrix factorisation (scikit-learn's NMF) writes A ~ U W: the ``count`` rows of W (concepts,
   channels) are the concept directions, U (crops, concepts) how much of each a crop holds.
3. Importance: gradient x concept, not CRAFT's Sobol indices. With every cell of the whole images written in
   the concepts (U fixed W, A = U W), the class score's gradient with respect to U is G W^T (G: the gradient
   with respect to A); summed over cells, U * G W^T is each concept's first-order share of the class score
   (exact for a linear head after the layer), averaged over the images. One forward and backward pass per
   batch of images against Sobol's (count + 2) x designs passes of the upper network per image: the demo
   can carry it, and the ranking is what the report shows.
4. Each concept's top crops (largest U), and per image a map of every concept over the layer's cells.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import tensorflow as tf
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning

from ..models.layers import find_layer, has_4d_output
from .activations import traced_layer_outputs
from .cams.base import activations_and_gradients

CONCEPTS = 6  # concepts per class (CRAFT's examples use 10-25 on ImageNet; a few suit a five-class task)
CROPS_PER_IMAGE = 8  # random crops of each image for the factorisation
CROP_FRACTION = 0.5  # crop side / image side (CRAFT: a part of the object, not the whole image)
NMF_ITERATIONS = 500  # scikit-learn's default 200 warns of no convergence on some demo classes


@dataclasses.dataclass
class ClassConcepts:
    """One class's concepts at one layer, most important first.

    Attributes:
        layer: The layer factorised.
        class_index: The class explained.
        bank: (k, c) the concept directions (NMF's components), in the layer's channels.
        importances: (k,) each concept's gradient x concept share of the class score, mean over the images.
        crops: (m, S, S, 3) float32 the random crops the concepts were found in, model-input scale.
        crop_coefficients: (m, k) how much of each concept each crop holds.
        maps: (n, h, w, k) every concept over every image's cells (U of each cell's activations).
        reconstruction: the factorisation's relative error ||A - U W|| / ||A|| on the crops.
        iterations: NMF's iterations; converged: whether it met its tolerance within ``NMF_ITERATIONS``.
    """

    layer: str
    class_index: int
    bank: np.ndarray
    importances: np.ndarray
    crops: np.ndarray
    crop_coefficients: np.ndarray
    maps: np.ndarray
    reconstruction: float
    iterations: int = 0
    converged: bool = True

    def top_crops(self, count: int = 6) -> np.ndarray:
        """(k, count) the crops (indices into ``crops``) holding most of each concept, most first."""
        return np.argsort(-self.crop_coefficients, axis=0, kind="stable")[:count].T


def random_crops(images: np.ndarray, per_image: int, fraction: float, seed: int = 0) -> np.ndarray:
    """(n * per_image, S, S, 3) float32: ``per_image`` random squares of side ``fraction`` * S from each image
    (n, S, S, 3), each resized back to S (bilinear), so the layer sees them at the scale it was trained on."""
    count, side = len(images), images.shape[1]
    rng = np.random.default_rng(seed)
    extent = fraction * (side - 1) / max(side - 1, 1)  # normalised side, as crop_and_resize reads boxes
    starts = rng.uniform(0.0, 1.0 - extent, (count * per_image, 2))
    boxes = np.concatenate([starts, starts + extent], axis=1).astype(np.float32)  # (top, left, bottom, right)
    owners = np.repeat(np.arange(count), per_image).astype(np.int32)
    crops = tf.image.crop_and_resize(np.asarray(images, np.float32), boxes, owners, (side, side), method="bilinear")
    return crops.numpy()


def factorise(activations: np.ndarray, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, NMF]:
    """NMF of (m, c) non-negative activations into (m, count) coefficients and (count, c) directions.

    Returns:
        (coefficients, bank, the fitted NMF, which writes new activations in the same directions).
    """
    if count < 1 or count > min(activations.shape):
        raise ValueError(
            f"concept count must be between 1 and min(crops, channels) = {min(activations.shape)}, got {count}"
        )
    model = NMF(n_components=count, init="nndsvda", max_iter=NMF_ITERATIONS, random_state=seed)
    with warnings.catch_warnings():  # not converging is reported (``ClassConcepts.converged``), not warned
        warnings.simplefilter("ignore", ConvergenceWarning)
        coefficients = model.fit_transform(np.asarray(activations, np.float64))
    return coefficients, model.components_, model


def concept_importances(cell_coefficients: np.ndarray, gradients: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """(k,) gradient x concept: sum over cells of U * (G W^T), mean over images.

    Args:
        cell_coefficients: (n, h, w, k) every cell's concepts U.
        gradients: (n, h, w, c) the class score's gradient G with respect to the layer's activations.
        bank: (k, c) the concept directions W.
    """
    concept_gradients = np.asarray(gradients, np.float64) @ np.asarray(bank, np.float64).T  # (n, h, w, k)
    return (cell_coefficients * concept_gradients).sum(axis=(1, 2)).mean(axis=0)


def _pooled_activations(model, crops: np.ndarray, layer_name: str, batch: int) -> np.ndarray:
    """(m, c) each crop's ReLU'd activations at the layer, averaged over its cells (the cut model, traced)."""
    outputs = traced_layer_outputs(model, [layer_name])
    return np.concatenate(
        [
            tf.reduce_mean(tf.nn.relu(outputs(tf.constant(crops[start : start + batch]))[layer_name]), axis=(1, 2))
            for start in range(0, len(crops), batch)
        ]
    )


def _concepts_in_images(
    model, images: np.ndarray, layer_name: str, class_index: int, fitted: NMF, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """((n, h, w, k) every cell of every image written in the fitted concepts, (k,) their gradient x concept
    importances for the class, mean over the images), one forward and backward pass per batch."""
    maps, importances = [], np.zeros(fitted.n_components_)
    for start in range(0, len(images), batch):
        part = images[start : start + batch]
        activations, gradients, _, _ = activations_and_gradients(model, part, class_index, layer_name)
        cells = np.maximum(activations, 0).reshape(-1, activations.shape[-1])  # (b h w, c)
        found = fitted.transform(cells.astype(np.float64)).reshape(*activations.shape[:3], -1)  # (b, h, w, k)
        importances += concept_importances(found, gradients, fitted.components_) * len(part)
        maps.append(found.astype(np.float32))
    return np.concatenate(maps), importances / len(images)


def concepts(
    model,
    images,
    layer_name: str,
    class_index: int,
    count: int = CONCEPTS,
    crops_per_image: int = CROPS_PER_IMAGE,
    crop_fraction: float = CROP_FRACTION,
    seed: int = 0,
    batch: int = 32,
) -> ClassConcepts:
    """The concepts ``model`` recognises class ``class_index`` by, in ``images`` of that class.

    Args:
        model: Flat or nesting a backbone; raw 0-255 RGB input for this project's models.
        images: (n, S, S, 3) images of the class, in the model's input scale.
        layer_name: The layer to factorise (4-D output; the run uses its CAM layer).
        class_index: The class whose score the importances explain.
        count: Concepts to find.
        crops_per_image, crop_fraction: The random crops factorised (``random_crops``).
        seed: Seeds the crops and the factorisation.
        batch: Images per pass.

    Returns:
        ``ClassConcepts``, its concepts ordered by importance, largest first.

    Raises:
        ValueError: no images, a layer without a 4-D output, a bad count or crop fraction.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or not len(images):
        raise ValueError(f"images must be a non-empty (n, S, S, 3) batch, got shape {images.shape}")
    if not has_4d_output(find_layer(model, layer_name)):
        raise ValueError(f"layer {layer_name!r} has no (batch, h, w, channels) output to find concepts in")
    if not 0 < crop_fraction <= 1 or crops_per_image < 1:
        raise ValueError(
            f"crop_fraction must be in (0, 1] and crops_per_image >= 1, got {crop_fraction}, {crops_per_image}"
        )
    crops = random_crops(images, crops_per_image, crop_fraction, seed)  # (m, S, S, 3)
    pooled = _pooled_activations(model, crops, layer_name, batch)  # (m, c)
    coefficients, bank, fitted = factorise(pooled, count, seed)
    reconstruction = float(np.linalg.norm(pooled - coefficients @ bank) / max(np.linalg.norm(pooled), 1e-12))
    maps, importances = _concepts_in_images(model, images, layer_name, class_index, fitted, batch)
    order = np.argsort(-importances, kind="stable")
    return ClassConcepts(
        layer=layer_name,
        class_index=int(class_index),
        bank=bank[order],
        importances=importances[order],
        crops=crops,
        crop_coefficients=coefficients[:, order],
        maps=maps[..., order],
        reconstruction=reconstruction,
        iterations=int(fitted.n_iter_),
        converged=int(fitted.n_iter_) < NMF_ITERATIONS,
    )
