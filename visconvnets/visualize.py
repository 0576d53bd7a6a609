"""The visualization half of the script: choose images, then write activation grids, filter
patterns, Grad-CAM panels and the failure gallery under OUT/."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import rendering
from .activations import layer_activations
from .cams import class_activation_maps, contrasting_maps, default_cam_layer
from .filters import DEFAULT_CONV_POSITIONS, AscentSettings, ascend, conv_layers_by_position, to_display
from .geometry import receptive_field


@dataclasses.dataclass
class VisualizationConfig:
    images: list[Path] | None = None  # images to explain; None: --images-per-class test images per class
    images_per_class: int = 2  # test images per class chosen (seeded) when --images is not given
    activations: bool = True  # write OUT/activations/<image>/NNN_<layer>.jpg
    layers: list[str] | None = None  # names, globs or types for the grids; None: every Conv2D and Activation
    images_per_row: int = 16  # grid tiles per row
    colormap: str = "viridis"  # grid colormap (the blog used viridis/plasma)
    activation_images: int = 5  # grids for the first N chosen images (one per class first; 188 JPEGs each for InceptionV3)
    filters: bool = True  # write OUT/filters/<layer>.jpg
    filter_layers: list[str] | None = None  # layer names; None: Conv2D layers at DEFAULT_CONV_POSITIONS
    filter_count: int = 64  # first N filters of each layer, 8 per row
    filter_size: int = 150  # pattern side in pixels
    filter_steps: int = AscentSettings.steps  # gradient-ascent steps, the blog's 80 (capped by $VISCONVNETS_MAX_STEPS)
    filter_step_size: float = AscentSettings.step_size  # see filters.AscentSettings for these four
    filter_jitter: int = AscentSettings.jitter
    filter_blur_every: int = AscentSettings.blur_every
    filter_octaves: int = AscentSettings.octaves
    gradcam: bool = True  # write OUT/gradcam/ and OUT/misclassified/
    cam_method: str = "gradcam"  # gradcam | gradcam++
    gradcam_layer: str | None = None  # None: mixed10 for InceptionV3, else the last 4-D layer
    max_misclassified: int = 24  # cap on the failure gallery
    seed: int = 42  # seeds the choice of images and the filter-pattern noise (RunConfig: all randomness)


def choose_images(paths: Sequence[Path], labels: Sequence[int], per_class: int, seed: int) -> list[int]:
    """Indices of up to ``per_class`` images per class, seeded and independent of listing order."""
    per_label = []
    for label in sorted(set(labels)):
        members = sorted((str(paths[i]), i) for i in range(len(paths)) if labels[i] == label)
        random.Random(f"{seed}:{label}").shuffle(members)
        per_label.append([index for _, index in members[:per_class]])
    # interleaved: the first image of every class, then the second of every class...
    return [group[rank] for rank in range(per_class) for group in per_label if rank < len(group)]


def _original_image(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as picture:
        return np.asarray(picture.convert("RGB"))


def _stem(path: Path) -> str:
    return f"{Path(path).parent.name}_{Path(path).stem}"


def _batches(count: int, size: int):
    for start in range(0, count, size):
        yield slice(start, min(count, start + size))


def check_layers(model, config: VisualizationConfig) -> None:
    """Every layer name and setting the visualizations will use, checked before any work (or training).

    Raises:
        ValueError: unknown names (with the nearest ones), layers without a 4-D output, bad settings.
    """
    from .cams import CAM_METHODS
    from .layers import find_layer, has_4d_output, select_layers

    if config.cam_method not in CAM_METHODS:
        raise ValueError(f"--cam-method must be one of {', '.join(sorted(CAM_METHODS))}, got {config.cam_method!r}")
    if config.activations and config.layers:
        select_layers(model, config.layers)
    if config.gradcam:
        cam_layer = config.gradcam_layer or default_cam_layer(model)
        if not has_4d_output(find_layer(model, cam_layer)):
            raise ValueError(f"--gradcam-layer {cam_layer!r} has no (batch, h, w, channels) output")
        receptive_field(model, cam_layer)
    if config.filters:
        for name in config.filter_layers or conv_layers_by_position(model, DEFAULT_CONV_POSITIONS):
            if not has_4d_output(find_layer(model, name)):
                raise ValueError(f"--filter-layers {name!r} has no (batch, h, w, channels) output")
    if config.filter_octaves < 1 or config.filter_jitter < 0 or config.filter_blur_every < 0:
        raise ValueError(f"--filter-octaves must be >= 1, --filter-jitter and --filter-blur-every >= 0, got "
                         f"{config.filter_octaves}, {config.filter_jitter}, {config.filter_blur_every}")
    if config.filter_count < 1 or config.filter_size < 16 or config.filter_steps < 0:
        raise ValueError(f"--filters must be >= 1, --filter-size >= 16 and --filter-steps >= 0, got "
                         f"{config.filter_count}, {config.filter_size}, {config.filter_steps}")
    for path in config.images or []:
        if not Path(path).is_file():
            raise FileNotFoundError(f"--images: {str(path)!r} does not exist")


def write_visualizations(model, classes: list[str], image_size: int, out_dir: Path, config: VisualizationConfig,
                         test_paths: Sequence[Path] = (), test_labels: Sequence[int] = (), progress: bool = True) -> dict:
    """Everything the visualization half writes; returns what was written, for the report."""
    from tqdm import tqdm

    from .data import load_images

    out_dir = Path(out_dir)
    written: dict = {"activations": {}, "filters": {}, "gradcam": [], "misclassified": []}
    if config.images:
        paths, labels = [Path(path) for path in config.images], [None] * len(config.images)
    else:
        picked = choose_images(test_paths, test_labels, config.images_per_class, config.seed)
        paths, labels = [Path(test_paths[i]) for i in picked], [test_labels[i] for i in picked]
    images = load_images(paths, image_size) if paths else np.zeros((0, image_size, image_size, 3), np.float32)
    check_layers(model, config)
    cam_layer = config.gradcam_layer or default_cam_layer(model)
    geometry = receptive_field(model, cam_layer) if config.gradcam else None
    filter_layers = config.filter_layers or conv_layers_by_position(model, DEFAULT_CONV_POSITIONS)

    if config.activations and config.activation_images and len(paths):
        count = min(config.activation_images, len(paths))
        activations = layer_activations(model, images[:count], config.layers)  # one forward pass for all of them
        for index in tqdm(range(count), desc="activation grids", disable=not progress):
            folder = out_dir / "activations" / _stem(paths[index])
            written["activations"][_stem(paths[index])] = rendering.write_activation_grids(
                activations, index, folder, config.images_per_row, config.colormap)
        del activations
    if config.filters:
        for layer_name in tqdm(filter_layers, desc="filter patterns", disable=not progress):
            from .layers import find_layer

            channels = int(find_layer(model, layer_name).output.shape[-1])
            indices = list(range(min(config.filter_count, channels)))
            settings = AscentSettings(steps=config.filter_steps, step_size=config.filter_step_size, jitter=config.filter_jitter,
                                      blur_every=config.filter_blur_every, octaves=config.filter_octaves)
            patterns = to_display(ascend(model, layer_name, indices, config.filter_size, settings, config.seed))
            written["filters"][layer_name] = rendering.save_filter_grid(
                patterns, out_dir / "filters" / f"{layer_name}.jpg", title=f"{layer_name}: filters 0-{len(indices) - 1} ({channels} in all)")
    if config.gradcam and len(paths):
        maps, probabilities = [], []
        for part in _batches(len(paths), 16):
            batch_maps, batch_probabilities, _ = class_activation_maps(model, images[part], None, cam_layer, config.cam_method)
            maps.append(batch_maps)
            probabilities.append(batch_probabilities)
        maps, probabilities = np.concatenate(maps), np.concatenate(probabilities)
        for path, label, heatmap, probability in tqdm(list(zip(paths, labels, maps, probabilities)), desc="grad-cam", disable=not progress):
            predicted = int(probability.argmax())
            truth = f"true {classes[label]}, " if label is not None else ""
            title = f"{path.name}: {truth}predicted {classes[predicted]} ({probability[predicted]:.2f}); {config.cam_method} at {cam_layer}"
            written["gradcam"].append(rendering.save_cam_panel(
                _original_image(path), [heatmap], [f"{config.cam_method} for {classes[predicted]}"], title,
                out_dir / "gradcam" / f"{_stem(path)}.jpg", geometry, image_size))
    return written


def write_failure_gallery(model, classes: list[str], image_size: int, out_dir: Path, config: VisualizationConfig,
                          test_paths: Sequence[Path], test_labels: Sequence[int], predicted: Sequence[int], progress: bool = True) -> list[Path]:
    """Every misclassified test image (up to ``max_misclassified``): the map for the predicted class
    beside the map for the true class, from one batched pass per class choice."""
    from tqdm import tqdm

    from .data import load_images

    wrong = [i for i in range(len(test_paths)) if int(predicted[i]) != int(test_labels[i])][: config.max_misclassified]
    if not wrong or not config.gradcam:
        return []
    cam_layer = config.gradcam_layer or default_cam_layer(model)
    geometry = receptive_field(model, cam_layer)
    written = []
    for part in _batches(len(wrong), 16):
        indices = wrong[part]
        images = load_images([test_paths[i] for i in indices], image_size)
        true_classes = [int(test_labels[i]) for i in indices]
        predicted_maps, true_maps, probabilities, predicted_classes = contrasting_maps(model, images, true_classes, cam_layer, config.cam_method)
        for offset, index in enumerate(tqdm(indices, desc="failure gallery", disable=not progress)):
            path = Path(test_paths[index])
            guess, truth = int(predicted_classes[offset]), true_classes[offset]
            title = (f"{path.name}: true {classes[truth]} ({probabilities[offset][truth]:.2f}), "
                     f"predicted {classes[guess]} ({probabilities[offset][guess]:.2f})")
            written.append(rendering.save_cam_panel(
                _original_image(path), [predicted_maps[offset], true_maps[offset]],
                [f"why {classes[guess]}", f"evidence for {classes[truth]}"], title,
                Path(out_dir) / "misclassified" / f"{_stem(path)}.jpg", geometry, image_size))
    return written
