"""Shared machinery: one batched forward/backward pass (a ``CamPass``: a layer's activations, the
gradient of each image's class score before the softmax with respect to them, the class scores) that
every method reads; registering methods and baselines in ``explain.methods``, and running any of them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf

from ...models import layers as layer_tools
from ...models.forward import count_passes, forward
from ...models.heads import class_count, probabilities_from_scores, read_head
from ...models.layer_choice import choose_cam_layer
from ..methods import MapMethod, class_indices, find_method, normalise_maps, register_method
from .traced import traced_passes


def default_cam_layer(model) -> str:
    """The layer a map explains when none is given: the run's own choice (``layer_choice.choose_cam_layer``),
    the deepest layer every path to the classifier passes through, or the deepest such layer with at least
    5x5 cells when that one has fewer. One policy for the library, the epoch callback and the run."""
    return choose_cam_layer(model)[0]


def activations_and_gradients(model, images, class_index=None, layer_name: str | None = None):
    """One forward and backward pass for the whole batch.

    Args:
        images: (n, H, W, 3) in the model's input scale.
        class_index: None (predicted class), an int, or a sequence of n ints.
        layer_name: Layer to explain; None means ``default_cam_layer``.

    Returns:
        (activations (n, h, w, c), gradients (n, h, w, c) of each image's class logit, logits
        (n, classes), class indices (n,)) as NumPy arrays.
    """
    activations, gradients, logits, indices = _forward_and_gradients(model, images, [class_index], layer_name)
    return activations, gradients[0], logits, indices[0]


def _forward_and_gradients(model, images, class_index_sets: list, layer_name: str | None):
    """One forward pass, one backward pass per entry of ``class_index_sets`` (persistent tape); the
    registered traced pass (``trace_passes``) when there is one for this model and layer."""
    layer_name = layer_name or default_cam_layer(model)
    layer = layer_tools.find_layer(model, layer_name)
    if not layer_tools.has_4d_output(layer):
        raise ValueError(
            f"layer {layer_name!r} has output shape {tuple(layer.output.shape)}; Grad-CAM needs (batch, h, w, channels)"
        )
    images = np.asarray(images, dtype="float32")
    count_passes("gradient", model, images.shape)  # the whole forward pass; the backward one stops at the layer
    classes = class_count(model) if getattr(model, "outputs", None) else None
    traced = traced_passes(model, layer_name)
    if traced is not None and classes and len(class_index_sets) <= 2 and traced.accepts(images):
        given = [class_indices(index, len(images), classes) for index in class_index_sets]
        first, second = (np.full(len(images), -1) if index is None else index for index in [*given, None][:2])
        activations, for_first, for_second, logits, explained_first, explained_second = traced(images, first, second)
        sets = [(for_first, explained_first.astype(np.int64)), (for_second, explained_second.astype(np.int64))]
        sets = sets[: len(given)]
        return activations, [gradients for gradients, _ in sets], logits, [indices for _, indices in sets]
    with tf.GradientTape(persistent=len(class_index_sets) > 1) as tape:
        logits, recorded = forward(model, tf.convert_to_tensor(images), taps=[layer_name], logits=True)
        activations = recorded[layer_name]
        count, classes = logits.shape
        index_sets = [class_indices(index, count, classes) for index in class_index_sets]
        index_sets = [logits.numpy().argmax(axis=1) if index is None else index for index in index_sets]
        # Images are independent (inference mode), so the gradient of the sum is each image's own.
        scores = [tf.reduce_sum(tf.gather(logits, indices, axis=1, batch_dims=1)) for indices in index_sets]
    gradients = [tape.gradient(score, activations).numpy() for score in scores]
    del tape
    return activations.numpy(), gradients, logits.numpy(), index_sets


@dataclasses.dataclass
class CamPass:
    """What one batched pass gives every method: read, never recomputed."""

    model: object
    images: np.ndarray  # (n, H, W, 3) in the model's input scale
    layer_name: str
    activations: np.ndarray  # (n, h, w, c)
    gradients: np.ndarray  # (n, h, w, c): of each image's explained class logit
    logits: np.ndarray  # (n, classes)
    indices: np.ndarray  # (n,) the explained classes
    seed: int = 0  # for methods and baselines that draw random numbers
    # {method: {option: value}}: the pixel methods' own options (``--ig-steps``...); missing: their defaults
    options: Mapping[str, Mapping] = dataclasses.field(default_factory=dict)


def register(name: str, baseline: bool = False) -> Callable:
    """Decorator: register ``compute(cam_pass)`` under ``name`` (``--cam-method`` and ``cam()`` accept it)."""

    def decorate(function: Callable) -> Callable:
        register_method(MapMethod(name, function, baseline))
        return function

    return decorate


def register_gradient_method(name: str, weighted: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    """Register a method that reads only ``(activations, gradients)``, both (n, h, w, c): ``weighted``
    gives its (n, h, w) map before ReLU and scaling (the registry applies ``normalise_maps``)."""

    def unscaled(one_pass: CamPass) -> np.ndarray:
        return weighted(one_pass.activations, one_pass.gradients)

    register_method(MapMethod(name, lambda one_pass: normalise_maps(unscaled(one_pass)), False, unscaled))


def for_model(name: str) -> Callable:
    """``f(model, images, class_index=None, layer_name=None) -> (n, h, w)`` maps of one registered method."""

    def maps(model, images, class_index=None, layer_name: str | None = None) -> np.ndarray:
        return cam(model, images, name, class_index, layer_name)

    maps.__doc__ = f"{name} maps of a batch, (n, h, w) float32 in [0, 1]; arguments as ``cam``."
    return maps


def cam_pass(
    model, images, class_index=None, layer_name: str | None = None, seed: int = 0, options: Mapping | None = None
) -> CamPass:
    """One forward and backward pass over the batch, packed for any method (``options``: see ``CamPass``)."""
    layer_name = layer_name or default_cam_layer(model)
    activations, gradients, logits, indices = activations_and_gradients(model, images, class_index, layer_name)
    images = np.asarray(images, np.float32)
    return CamPass(model, images, layer_name, activations, gradients, logits, indices, seed, dict(options or {}))


def cam(
    model,
    images,
    method: str | MapMethod = "gradcam",
    class_index=None,
    layer_name: str | None = None,
    seed: int = 0,
    options: Mapping | None = None,
):
    """Maps of any registered method or baseline.

    Args:
        model: Flat or nesting a backbone; a softmax output is read as its logits.
        images: (n, H, W, 3) in the model's input scale (raw 0-255 RGB for this project's models).
        method: A name of ``methods.MAP_METHODS``: a CAM (gradcam, gradcam++, layercam, hirescam, scorecam,
            eigencam), a pixel attribution (saliency, smoothgrad, integrated_gradients, occlusion, rise,
            guided_backprop, with their default options) or a baseline (random, centre, sobel).
        class_index: None (each image's predicted class), an int, or one int per image.
        layer_name: None means ``default_cam_layer``.
        seed: For the methods that draw random numbers.
        options: {method: {option: value}} for pixel methods (``{"integrated_gradients": {"steps": 16}}``).

    Returns:
        (n, h, w) float32 in [0, 1] at the layer's spatial resolution; a pixel method's (n, H, W) at the
        images' own.
    """
    chosen = find_method(method)
    return chosen.compute(cam_pass(model, images, class_index, layer_name, seed, options))


def class_activation_maps(
    model, images, class_index=None, layer_name: str | None = None, method: str | MapMethod = "gradcam", options=None
):
    """Maps plus what a caller showing them needs, from one pass (``options`` as ``cam``'s).

    Returns:
        (maps (n, h, w) in [0, 1], probabilities (n, classes), class indices (n,)).
    """
    chosen = find_method(method)
    one_pass = cam_pass(model, images, class_index, layer_name, options=options)
    return chosen.compute(one_pass), probabilities_from_scores(read_head(model), one_pass.logits), one_pass.indices


def contrast_passes(
    model,
    images,
    class_index,
    layer_name: str | None = None,
    options: Mapping | None = None,
    predicted_class_index=None,
) -> tuple[CamPass, CamPass]:
    """(pass for ``class_index``, pass for each image's predicted class) from ONE forward pass and two
    backward passes (traced once ``trace_passes`` registered this model and layer). ``predicted_class_index``:
    the predictions to explain when the caller already has them (the evaluation's), else the pass's argmax."""
    layer_name = layer_name or default_cam_layer(model)
    sets = [class_index, predicted_class_index]
    activations, gradients, logits, index_sets = _forward_and_gradients(model, images, sets, layer_name)
    images, options = np.asarray(images, np.float32), dict(options or {})
    given, predicted = (
        CamPass(model, images, layer_name, activations, gradients[i], logits, index_sets[i], 0, options)
        for i in range(2)
    )
    return given, predicted


def contrasting_maps(
    model,
    images,
    other_class_index,
    layer_name: str | None = None,
    method: str | MapMethod = "gradcam",
    shared_scale=False,
    options: Mapping | None = None,
    predicted_class_index=None,
):
    """Maps for each image's predicted class and for ``other_class_index`` (e.g. the true class),
    from ONE forward pass and two backward passes (``contrast_passes``).

    Args:
        predicted_class_index: The predicted classes when the caller has them (one int per image: the
            evaluation's, so a panel explains the class its table shows); None: the pass's own argmax.
        shared_scale: Scale each image's two maps by the larger of their two peaks (so weak evidence
            looks weak beside strong), for methods with ``has_shared_scale``; else each map by its own.
        options: The pixel methods' options, as ``cam``'s.

    Returns:
        (predicted maps (n, h, w), other maps (n, h, w), probabilities (n, classes), predicted indices (n,)).
    """
    chosen = find_method(method)
    other, predicted = contrast_passes(model, images, other_class_index, layer_name, options, predicted_class_index)
    if shared_scale and chosen.unscaled is not None:
        maps = scale_together(chosen.unscaled(predicted), chosen.unscaled(other))
    else:
        maps = chosen.compute(predicted), chosen.compute(other)
    return (*maps, probabilities_from_scores(read_head(model), predicted.logits), predicted.indices)


def scale_together(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two (n, h, w) unscaled maps of the same images after ReLU, each image's pair divided by the larger
    of its two peaks: (n, h, w) twice, in [0, 1]."""
    both = normalise_maps(np.concatenate([first, second], axis=2))  # (n, h, 2w): one peak per image
    return both[:, :, : first.shape[2]], both[:, :, first.shape[2] :]


def has_shared_scale(method: str | MapMethod) -> bool:
    """Whether ``method``'s maps of different classes share units (``contrasting_maps(shared_scale=True)``)."""
    return find_method(method).unscaled is not None
