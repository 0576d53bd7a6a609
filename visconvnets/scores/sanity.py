"""The model-parameter randomisation test (Adebayo et al., 2018): re-initialise the classifier head,
then each block from the top down, recompute the maps after each step and compare them with the
trained model's. Maps that stay the same while the weights that made them are gone explain the input
(an edge detector does that), not the model. The steps change the model's weights in place (so a traced
pass of it serves every step) and always put the trained weights back, on error too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from scipy import stats

from ..explain.cams import cam_pass, contrasting_maps, default_cam_layer
from ..explain.methods import find_method
from ..models import layers as layer_tools
from ..models.forward import probabilities
from ..models.layer_choice import cut_points
from ..models.per_model import PerModel

_TWINS = PerModel()  # (model, seed) -> untrained twin


def randomisation_steps(model) -> list[tuple[str, list[str]]]:
    """[(step name, names of the weighted layers it re-initialises)], top down: ``head`` (everything
    after the last spatial layer), then the block ending at each cut point (InceptionV3: ``mixed10``,
    ``mixed9``, ... then the stem's layers one by one)."""
    points = cut_points(model)
    spatial = [index for index, layer in enumerate(points) if layer_tools.has_4d_output(layer)]
    if not spatial:
        raise ValueError(f"model {model.name!r} has no spatial layer to randomise down from")
    leaves = [layer for layer in layer_tools.iter_layers(model) if not isinstance(layer, keras.Model)]
    position = {layer.name: index for index, layer in enumerate(leaves)}
    ends = [position[layer.name] for layer in points]  # each cut point's place among the leaves
    last = spatial[-1]
    head = [layer.name for layer in leaves[ends[last] + 1 :] if layer.weights]
    steps = [("head", head)] if head else []
    for index in range(last, -1, -1):  # the block ending at each cut point, top down
        start = ends[index - 1] + 1 if index else 0
        weighted = [layer.name for layer in leaves[start : ends[index] + 1] if layer.weights]
        if weighted:
            steps.append((points[index].name, weighted))
    return steps


def spearman(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(n,) Spearman rank correlation of two (n, h, w) map sets, image by image (ties get their average rank,
    ``scipy.stats.rankdata``); 0 where a map is constant (no ranking at all, where scipy gives NaN)."""
    a = stats.rankdata(first.reshape(len(first), -1), method="average", axis=1)
    b = stats.rankdata(second.reshape(len(second), -1), method="average", axis=1)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    scale = np.sqrt((a**2).sum(1) * (b**2).sum(1))
    return np.divide((a * b).sum(1), scale, out=np.zeros(len(a)), where=scale > 0)


def structural_similarity(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(n,) structural similarity of two (n, h, w) map sets in [0, 1], image by image: ``tf.image.ssim``'s
    Gaussian window (11 cells, sigma 1.5, Wang et al. 2004), narrowed to the map's side where a CAM's map is
    smaller (a 2x2 map at 75 px), averaged over the map as Adebayo et al. (2018) average it."""
    side = int(min(first.shape[1], first.shape[2]))
    return tf.image.ssim(
        tf.constant(first[..., None], tf.float32),
        tf.constant(second[..., None], tf.float32),
        max_val=1.0,
        filter_size=min(11, side),
        filter_sigma=1.5,
    ).numpy()


def randomization_sanities(
    model,
    images,
    methods: Sequence[str] = ("gradcam",),
    layer_name: str | None = None,
    seed: int = 0,
    max_steps: int | None = None,
    options: Mapping | None = None,
    trained_maps: Mapping[str, np.ndarray] | None = None,
) -> dict:
    """Cascading randomisation of ``model`` (weights restored after); each method's maps after each step
    against its trained-model maps, all methods from one pass per step.

    Args:
        model: The trained classifier (its trained weights are back when this returns or raises).
        images: (n, S, S, 3) in the model's input scale.
        methods: Names of ``explain.methods.MAP_METHODS`` (CAMs, pixel methods, baselines).
        layer_name: The CAMs' layer; None means ``default_cam_layer``.
        seed: Seeds the fresh weights (and the methods that draw random numbers).
        max_steps: Stop the cascade after this many steps (the layers below stay trained); None: all.
        options: The pixel methods' options (``cams.CamPass.options``).
        trained_maps: {method: (n, h, w)} the trained model's maps of ``images`` for their predicted classes,
            made with the same ``seed`` and ``options`` (the run's map scores made them): not made again.

    Returns:
        {"layer", "steps": [step names], "methods": {name: {"spearman": [mean per step], "ssim": [mean per
        step], "spearman_per_image": (steps, n), "maps": (steps + 1, n, h, w) the original maps first}}}.
    """
    layer_name = layer_name or default_cam_layer(model)
    images = np.asarray(images, np.float32)
    chosen = [find_method(name) for name in methods]
    classes = np.asarray(cam_classes(model, images))  # the randomised copies explain the trained model's classes

    def maps_now() -> list[np.ndarray]:
        one_pass = cam_pass(model, images, classes, layer_name, seed, options)
        return [method.compute(one_pass) for method in chosen]

    given = trained_maps or {}
    if all(len(given.get(method.name, ())) == len(images) for method in chosen):  # made for these images
        original = [np.asarray(given[method.name], np.float32) for method in chosen]
    else:
        original = maps_now()
    trained, fresh = model.get_weights(), untrained_twin(model, seed)
    names, found = [], [[maps] for maps in original]  # per method: the trained maps, then one per step
    try:  # in place (a traced pass of the model is reused: ``cams.trace_passes``), restored below
        for step, layer_names in randomisation_steps(model)[:max_steps]:
            for name in layer_names:
                layer_tools.find_layer(model, name).set_weights(layer_tools.find_layer(fresh, name).get_weights())
            names.append(step)
            for maps, randomised in zip(found, maps_now()):
                maps.append(randomised)
    finally:
        model.set_weights(trained)
    results = {}
    for method, (first, *later) in zip(chosen, found):
        correlations = np.asarray([spearman(first, maps) for maps in later])  # (steps, n)
        similarities = [structural_similarity(first, maps) for maps in later]
        results[method.name] = {
            "spearman": [float(values.mean()) for values in correlations],
            "ssim": [float(values.mean()) for values in similarities],
            "spearman_per_image": correlations,
            "maps": np.asarray([first, *later]),
        }
    return {"layer": layer_name, "steps": names, "methods": results}


def randomization_sanity(
    model, images, method: str = "gradcam", layer_name: str | None = None, seed: int = 0, max_steps: int | None = None
):
    """``randomization_sanities`` of one method, flattened: {"method", "layer", "steps", "spearman", "ssim",
    "spearman_per_image", "maps"}."""
    found = randomization_sanities(model, images, [method], layer_name, seed, max_steps)
    return {"method": method, "layer": found["layer"], "steps": found["steps"], **found["methods"][method]}


def untrained_twin(model, seed: int):
    """The same architecture with fresh initial weights drawn with ``seed`` (``keras.models.clone_model``),
    made once per model and seed and shared (the pointing game's untrained reference and the randomisation
    steps' weights); held as long as ``model`` is."""

    def make():
        keras.utils.set_random_seed(seed)
        return keras.models.clone_model(model)

    return _TWINS.get_or_make(model, seed, make)


def cam_classes(model, images: np.ndarray) -> np.ndarray:
    """(n,) the trained model's predicted classes: the randomised copies explain the same ones."""
    return probabilities(model, images).argmax(axis=1)


def class_sensitivity(
    model, images, method: str = "gradcam", layer_name: str | None = None, options: Mapping | None = None
) -> np.ndarray:
    """(n,) rank correlation of each image's map for its predicted class with its map for the
    runner-up class: near 1 means the map hardly depends on the class asked about."""
    images = np.asarray(images, np.float32)
    runner_up = np.argsort(probabilities(model, images), axis=1)[:, -2]
    predicted, other, _, _ = contrasting_maps(model, images, runner_up, layer_name, method, options=options)
    return spearman(predicted, other)
