"""Scoring a model on its test split: the metrics, the predictions CSV, the confusion matrix and
training curves, and the Grad-CAM pointing game against an untrained twin."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from . import data as data_tools
from . import evaluation, outputs, rendering
from .config import RunConfig
from .history import read_history
from .images import load_images
from .sanity import untrained_twin
from .split.audit import read_split_csv
from .synthetic import read_boxes


def evaluate_test_split(
    model,
    split_files: data_tools.SplitFiles,
    classes: list[str],
    image_size: int,
    batch_size: int,
    out_dir: Path,
    description: str = "model",
) -> tuple[dict, np.ndarray]:
    """Metrics on the test split and the (n, classes) probabilities they came from; writes the
    predictions CSV, the confusion matrix and (when there is a history) the training curves, titled
    with ``description`` (e.g. "ResNet50V2 classifier")."""
    layout = outputs.RunLayout(out_dir)
    paths, labels = split_files.paths["test"], split_files.labels["test"]
    dataset = data_tools.make_dataset(paths, labels, image_size, batch_size, cache=False)
    probabilities = evaluation.predict(model, dataset)
    test = evaluation.classification_metrics(probabilities, labels, classes)
    relative = data_tools.relative_paths(paths, split_files.root)
    outputs.write_predictions_csv(layout / outputs.PREDICTIONS, relative, labels, probabilities, classes)
    title = f"test confusion matrix ({test['count']} images, accuracy {test['accuracy']:.2f})"
    rendering.save_confusion_matrix(test["confusion_matrix"], classes, layout / outputs.CONFUSION_MATRIX, title)
    history = read_history(layout / outputs.HISTORY)
    if history:
        rendering.save_training_curves(history, layout / outputs.TRAINING_CURVES, f"{description} training")
    print(f"test accuracy {test['accuracy']:.3f}, loss {test['loss']:.3f} on {test['count']} images")
    return test, probabilities


def boxed_test_images(split_files: data_tools.SplitFiles, boxes_path: Path, part: str = "test"):
    """(paths, labels, boxes, original sizes) of the ``part`` images (test, validation, train) that have a
    box in ``boxes_path``."""
    boxes = read_boxes(boxes_path)
    split_csv = split_files.root / outputs.SPLIT_CSV
    if not split_csv.exists():
        raise FileNotFoundError(
            f"--boxes needs {str(split_csv)!r} (written by create_train_val_test.py) to find each image's source"
        )
    source_of = {row["destination"]: row["source"] for row in read_split_csv(split_csv) if row["destination"]}
    found = []
    part_paths = split_files.paths[part]
    for path, relative, label in zip(
        part_paths, data_tools.relative_paths(part_paths, split_files.root), split_files.labels[part]
    ):
        source = source_of.get(relative)
        if source in boxes:
            with Image.open(path) as picture:
                found.append((path, label, boxes[source], picture.size))
    if not found:
        raise ValueError(f"no {part} image has a box in {str(boxes_path)!r}")
    return tuple(list(column) for column in zip(*found))


def chosen_images(
    split_files, boxes_path, part: str, seed: int, per_class: int | None = None, limit: int | None = None
):
    """(paths, labels, boxes or None, original sizes or None) of ``part`` images, seeded, every class in
    turn: ``per_class`` of each (default: enough for ``limit``), at most ``limit``; only boxed images
    when ``boxes_path`` is given."""
    if boxes_path:
        paths, labels, boxes, sizes = boxed_test_images(split_files, boxes_path, part)
    else:
        paths, labels, boxes, sizes = split_files.paths[part], split_files.labels[part], None, None
    per_class = per_class or math.ceil(limit / max(1, len(set(labels))))
    chosen = data_tools.choose_images(paths, labels, per_class, seed)[:limit]
    pick = [paths[i] for i in chosen], [labels[i] for i in chosen]
    if boxes is None:
        return *pick, None, None
    return *pick, [boxes[i] for i in chosen], [sizes[i] for i in chosen]


def score_pointing_game(
    model, split_files: data_tools.SplitFiles, config: RunConfig, image_size: int, layer: str
) -> dict:
    """Pointing game at ``layer`` on the test split, for the model and for the same architecture untrained
    (a clone with fresh initial weights, seeded: works for any model)."""
    paths, labels, image_boxes, sizes = boxed_test_images(split_files, config.boxes)
    images = load_images(paths, image_size)
    trained = evaluation.pointing_game(model, images, labels, image_boxes, layer, sizes)
    untrained_model = untrained_twin(model, config.seed)  # fresh weights; the randomisation check reuses it
    untrained = evaluation.pointing_game(untrained_model, images, labels, image_boxes, layer, sizes)
    hits = [path for path, hit in zip(data_tools.relative_paths(paths, split_files.root), trained["hits"]) if hit]
    result = {
        "layer": layer,
        "count": len(paths),
        "trained": trained["score"],
        "untrained": untrained["score"],
        "centre": trained["centre"],
        "trained_hits": hits,
    }
    print(
        f"pointing game at {layer}: trained {result['trained']:.2f}, untrained {result['untrained']:.2f}, "
        f"image centre {result['centre']:.2f}"
    )
    return result
