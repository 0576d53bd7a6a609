"""Scoring a model on its test split: the metrics, the predictions CSV, the confusion matrix and
training curves, and the Grad-CAM pointing game against an untrained twin."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data import pipelines
from ..data.folders import SplitFiles, relative_paths
from ..data.images import load_images
from ..data.selection import ImageSet
from ..render import pictures
from ..scores.classification import classification_metrics, predict
from ..scores.pointing import pointing_game
from ..scores.sanity import untrained_twin
from ..settings import outputs
from ..train.history import read_history


@dataclasses.dataclass(frozen=True)
class TestPredictions:
    """The evaluation's probabilities of the test images (what ``test_predictions.csv`` holds): the one source
    of every predicted class and probability the report shows for a test image (panels, failure gallery).

    Attributes:
        paths: The test images, in the evaluation's order.
        probabilities: (n, classes) float64, read as the model's head says.
    """

    paths: tuple[Path, ...]
    probabilities: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        """(n,) int64 each test image's predicted class."""
        return self.probabilities.argmax(axis=1)

    def rows(self, paths: Sequence[Path]) -> np.ndarray | None:
        """(len(paths), classes) the probabilities of ``paths``, or None when any of them is not a test image."""
        where = {Path(path): index for index, path in enumerate(self.paths)}
        found = [where.get(Path(path)) for path in paths]
        return None if any(index is None for index in found) else self.probabilities[found]


def evaluate_test_split(
    model,
    split_files: SplitFiles,
    classes: list[str],
    image_size: int,
    batch_size: int,
    out_dir: outputs.RunLayout | Path,
    description: str = "model",
) -> tuple[dict, np.ndarray]:
    """Metrics on the test split and the (n, classes) probabilities they came from (in the split's test order:
    ``TestPredictions(paths, probabilities)``); writes the
    predictions CSV, the confusion matrix and (when there is a history) the training curves, titled
    with ``description`` (e.g. "ResNet50V2 classifier")."""
    layout = outputs.as_layout(out_dir)  # the run's own layout, or a folder given by hand
    paths, labels = split_files.paths["test"], split_files.labels["test"]
    dataset = pipelines.make_dataset(paths, labels, image_size, batch_size, cache=False)
    probabilities = predict(model, dataset)
    test = classification_metrics(probabilities, labels, classes)
    relative = relative_paths(paths, split_files.root)
    outputs.write_predictions_csv(layout / outputs.PREDICTIONS, relative, labels, probabilities, classes)
    title = f"test confusion matrix ({test['count']} images, accuracy {test['accuracy']:.2f})"
    pictures.save_confusion_matrix(test["confusion_matrix"], classes, layout / outputs.CONFUSION_MATRIX, title)
    history = read_history(layout / outputs.HISTORY)
    if history:
        pictures.save_training_curves(history, layout / outputs.TRAINING_CURVES, f"{description} training")
    print(f"test accuracy {test['accuracy']:.3f}, loss {test['loss']:.3f} on {test['count']} images")
    return test, probabilities


def score_pointing_game(model, boxed: ImageSet, root: Path, image_size: int, layer: str, seed: int) -> dict:
    """Pointing game at ``layer`` on the ``boxed`` test images (their paths reported relative to the split
    folder ``root``), for the model and for the same architecture untrained (a clone with fresh initial
    weights, seeded by ``seed``: works for any model)."""
    paths, labels, image_boxes, sizes = boxed.paths, boxed.labels, boxed.boxes, boxed.sizes
    images = load_images(paths, image_size)
    trained = pointing_game(model, images, labels, image_boxes, layer, sizes)
    untrained_model = untrained_twin(model, seed)  # fresh weights; the randomisation check reuses it
    untrained = pointing_game(untrained_model, images, labels, image_boxes, layer, sizes)
    hits = [path for path, hit in zip(relative_paths(paths, root), trained["hits"]) if hit]
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
