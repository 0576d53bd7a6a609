"""The pictures of a model: choose images, compute activations, filter patterns and class activation
maps (the methods return arrays), and hand them to ``render.pictures`` to write under OUT/."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.images import load_images, load_original
from ..data.selection import ImageSet
from ..explain.activations import layer_activations
from ..explain.cams import cam_pass, class_activation_maps, contrasting_maps, has_shared_scale
from ..explain.methods import MAP_METHODS, find_method, ordered_methods
from ..models import build
from ..models.geometry import receptive_field
from ..models.layer_choice import choose_cam_layer
from ..models.layers import find_layer, has_4d_output, select_layers
from ..render import pictures
from ..settings import outputs
from ..settings.config import PICTURE_BATCH_SIZE, VisualizationConfig
from .evaluation import TestPredictions
from .timing import stage
from .units import write_unit_pictures


def _batches(count: int, size: int = PICTURE_BATCH_SIZE):
    for start in range(0, count, size):
        yield slice(start, min(count, start + size))


@dataclasses.dataclass(frozen=True)
class PictureLayers:
    """The layers a run explains, chosen and checked once (``resolve_layers``) and carried on the run's job.

    Attributes:
        cam: The class activation maps' layer (the panels, the failure gallery, the scores, the probes and
            the pointing game); None when nothing draws or scores a map.
        cam_reason: Why that layer, in words (``--gradcam-layer``, or the adaptive choice's reason).
        filters: The filter-pattern layers in drawing order; empty without ``filters``.
        concepts: The layer the classes' concepts are found at (``--concept-layer``, else the CAM layer); None
            without ``concepts``.
    """

    cam: str | None
    cam_reason: str
    filters: tuple[str, ...]
    concepts: str | None = None


def resolve_layers(model, config: VisualizationConfig, cam_used_elsewhere: bool = False) -> PictureLayers:
    """Every layer name and setting the pictures will use, chosen and checked before any work (or training).

    Args:
        model: The classifier to explain.
        config: The picture settings (``--gradcam-layer``, ``--filter-layers``, ``--layers``...).
        cam_used_elsewhere: Whether the epoch probes or the pointing game use the CAM layer (they do even with
            ``--no-gradcam``).

    Raises:
        ValueError: unknown names (with the nearest ones), layers without a 4-D output, bad settings.
    """
    if config.cam_method not in MAP_METHODS:
        raise ValueError(f"--cam-method must be one of {', '.join(sorted(MAP_METHODS))}, got {config.cam_method!r}")
    config.validate_pictures()
    if config.activations and config.layers:
        select_layers(model, config.layers)
    cam, reason = None, "no map is drawn or scored (--no-gradcam)"
    if config.gradcam or cam_used_elsewhere:
        if config.gradcam_layer:
            cam, reason = config.gradcam_layer, "set in the settings (--gradcam-layer; --demo sets it)"
        else:
            cam, reason = choose_cam_layer(model)
        if not has_4d_output(find_layer(model, cam)):
            raise ValueError(f"--gradcam-layer {cam!r} has no (batch, h, w, channels) output")
        receptive_field(model, cam)  # a layer whose cells cannot be placed fails here, not after training
    filters = ()
    if config.filters:
        filters = tuple(config.filter_layers or build.default_filter_layers(model))
        for name in filters:
            if not has_4d_output(find_layer(model, name)):
                raise ValueError(f"--filter-layers {name!r} has no (batch, h, w, channels) output")
    concepts = None
    if config.concepts:
        concepts = config.concept_layer or cam or choose_cam_layer(model)[0]
        if not has_4d_output(find_layer(model, concepts)):
            raise ValueError(f"--concept-layer {concepts!r} has no (batch, h, w, channels) output")
        receptive_field(model, concepts)  # its maps are drawn at receptive-field centres
    return PictureLayers(cam, reason, filters, concepts)


def save_activation_grids(
    model,
    image,
    out_dir: Path,
    layer_names: Sequence[str] | None = None,
    images_per_row: int = 16,
    colormap: str = "viridis",
    workers: int = 2,
) -> list[Path]:
    """One JPEG per layer for one image: ``NNN_<layer>.jpg`` in depth order, each with a header naming
    the layer, its output shape and its dead channels. All layers from one forward pass.

    Args:
        image: (H, W, 3) or (1, H, W, 3) in the model's input scale.

    Returns:
        The written paths, in depth order.
    """
    batch = np.asarray(image, np.float32)
    batch = batch[None] if batch.ndim == 3 else batch
    activations = layer_activations(model, batch[:1], layer_names)
    return pictures.write_activation_grids(activations, 0, out_dir, images_per_row, colormap, workers)


def write_activation_pictures(
    model,
    images: np.ndarray,
    paths: Sequence[Path],
    layout: outputs.RunLayout,
    config: VisualizationConfig,
    progress: bool,
) -> dict[str, list[Path]]:
    """Grids of the first ``activation_images`` images, all from one forward pass: {image stem: files}."""
    count = min(config.activation_images, len(paths))
    if not (config.activations and count):
        return {}
    activations = layer_activations(model, images[:count], config.layers)  # {layer: (count, h, w, c)}
    return {
        outputs.image_stem(paths[index]): pictures.write_activation_grids(
            activations, index, layout.activation_folder(paths[index]), config.images_per_row, config.colormap
        )
        for index in tqdm(range(count), desc="activation grids", disable=not progress)
    }


def write_cam_pictures(
    model,
    classes: list[str],
    images: np.ndarray,
    chosen: ImageSet,
    layer: str,
    layout: outputs.RunLayout,
    config: VisualizationConfig,
    progress: bool,
    predictions: TestPredictions | None = None,
) -> list[Path]:
    """Input | map | overlay for each image, the map at ``layer`` for its predicted class, batched passes.
    Test images take their predicted class and probabilities from ``predictions`` (the evaluation's)."""
    paths, labels = chosen.paths, chosen.labels
    geometry, method = receptive_field(model, layer), find_method(config.cam_method)  # the method found once
    known = predictions.rows(paths) if predictions is not None else None  # None: images outside the test split
    parts = [
        class_activation_maps(
            model,
            images[part],
            None if known is None else known[part].argmax(axis=1),
            layer,
            method,
            config.pixel_options(),
        )
        for part in _batches(len(paths))
    ]
    maps = np.concatenate([part[0] for part in parts])
    probabilities = known if known is not None else np.concatenate([part[1] for part in parts])
    written = []
    items = list(zip(paths, labels, maps, probabilities))
    for path, label, heatmap, probability in tqdm(items, desc="grad-cam", disable=not progress):
        predicted = int(probability.argmax())
        truth = f"true {classes[label]}, " if label is not None else ""
        title = (
            f"{path.name}: {truth}predicted {classes[predicted]} ({probability[predicted]:.2f}); "
            f"{method.name} {method.source(layer)}"
        )
        written.append(
            pictures.save_cam_panel(
                load_original(path),
                [heatmap],
                [f"{method.name} for {classes[predicted]}"],
                title,
                layout.cam_panel(path),
                geometry,
                images.shape[1],
            )
        )
    return written


def write_visualizations(
    model,
    classes: list[str],
    image_size: int,
    out_dir: outputs.RunLayout | Path,
    config: VisualizationConfig,
    chosen: ImageSet | None = None,
    layers: PictureLayers | None = None,
    progress: bool = True,
    clock=None,
    examples_from: Sequence[Path] = (),
    predictions: TestPredictions | None = None,
) -> dict:
    """Activation grids, filter patterns (scored against, and drawn beside crops of, the ``examples_from``
    images: the run's test split), CAM panels (and every method side by side with ``compare_cams``) of the
    ``chosen`` images at the ``layers`` from ``resolve_layers``; returns what was written. ``clock`` (a
    ``timing.Stopwatch``) gets each kind's seconds. A test image's panel shows (and explains) the class and
    probabilities of ``predictions`` (the evaluation's) when given.

    Called by hand (a model loaded with ``custom_objects``), ``chosen`` defaults to ``config.images`` and
    ``layers`` to ``resolve_layers(model, config)``.
    """
    if chosen is None:
        chosen = ImageSet([Path(path) for path in config.images or []], [None] * len(config.images or []))
    layers = layers or resolve_layers(model, config)
    layout = outputs.as_layout(out_dir)  # the run's own layout, or a folder given by hand
    images = load_images(chosen.paths, image_size)  # (n, size, size, 3), raw 0-255
    written = {"misclassified": [], "gradcam": [], "compare": []}
    with stage(clock, "activation grids"):
        written["activations"] = write_activation_pictures(model, images, chosen.paths, layout, config, progress)
    written["filters"] = write_unit_pictures(
        model, layers.filters, layout, config, examples_from, image_size, clock, progress
    )
    with stage(clock, "cam panels"):
        if config.gradcam and len(chosen):
            written["gradcam"] = write_cam_pictures(
                model, classes, images, chosen, layers.cam, layout, config, progress, predictions
            )
        if config.gradcam and config.compare_cams and len(chosen):
            written["compare"] = write_cam_comparisons(model, images, chosen.paths, layers.cam, layout, config)
    return written


def write_cam_comparisons(
    model, images: np.ndarray, paths: Sequence[Path], layer: str, layout: outputs.RunLayout, config: VisualizationConfig
) -> list[Path]:
    """``OUT/compare/<image>.jpg``: every method and baseline over each image (its predicted class),
    from one forward/backward pass per batch.

    Args:
        images: (n, S, S, 3) the explained images; paths: their files (the originals are drawn on).
    """
    geometry, written, methods = receptive_field(model, layer), [], ordered_methods()
    baselines = sum(method.baseline for method in methods)
    for part in _batches(len(paths)):
        one_pass = cam_pass(model, images[part], None, layer, config.seed, config.pixel_options())
        maps = {method.name: method.compute(one_pass) for method in methods}
        for offset, path in enumerate(paths[part]):
            title = f"{Path(path).name}: CAMs at {layer}, pixel methods, then {baselines} baselines"
            written.append(
                pictures.save_cam_comparison(
                    load_original(path),
                    {name: found[offset] for name, found in maps.items()},
                    title,
                    layout.comparison_panel(path),
                    geometry,
                    images.shape[1],
                )
            )
    return written


def write_failure_gallery(
    model,
    classes: list[str],
    image_size: int,
    out_dir: outputs.RunLayout | Path,
    config: VisualizationConfig,
    predictions: TestPredictions | None,
    test_labels: Sequence[int],
    layer: str,
    progress: bool = True,
) -> list[Path]:
    """Every misclassified test image of ``predictions`` (the evaluation's, the same as ``test_predictions.csv``;
    up to ``max_misclassified``): the map at ``layer`` for the predicted class beside the map for the true class
    (one pass per batch), on one scale where the method allows it; the titles read ``predictions`` too."""
    if predictions is None or not config.gradcam:
        return []
    test_paths, predicted = predictions.paths, predictions.predicted
    wrong = [i for i in range(len(test_paths)) if int(predicted[i]) != int(test_labels[i])][: config.max_misclassified]
    if not wrong:
        return []
    layout = outputs.as_layout(out_dir)  # the run's own layout, or a folder given by hand
    geometry, method = receptive_field(model, layer), find_method(config.cam_method)  # the method found once
    scale_label = "map / the larger peak of the two" if has_shared_scale(method) else "map / its own peak"
    written = []
    for part in _batches(len(wrong)):
        indices = wrong[part]
        images = load_images([test_paths[i] for i in indices], image_size)
        true_classes = [int(test_labels[i]) for i in indices]
        guesses, probabilities = predicted[indices], predictions.probabilities[indices]
        predicted_maps, true_maps, _, _ = contrasting_maps(
            model,
            images,
            true_classes,
            layer,
            method,
            shared_scale=True,
            options=config.pixel_options(),
            predicted_class_index=guesses,
        )
        for offset, index in enumerate(tqdm(indices, desc="failure gallery", disable=not progress)):
            path, guess, truth = Path(test_paths[index]), int(guesses[offset]), true_classes[offset]
            title = (
                f"{path.name}: true {classes[truth]} ({probabilities[offset][truth]:.2f}), "
                f"predicted {classes[guess]} ({probabilities[offset][guess]:.2f})"
            )
            written.append(
                pictures.save_cam_panel(
                    load_original(path),
                    [predicted_maps[offset], true_maps[offset]],
                    [f"why {classes[guess]}", f"evidence for {classes[truth]}"],
                    title,
                    layout.failure_panel(path),
                    geometry,
                    image_size,
                    scale_label=scale_label,
                )
            )
    return written
