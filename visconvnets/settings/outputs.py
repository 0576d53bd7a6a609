"""The output layout: the name of every file and folder a run writes under OUT, in one place, and
the small readers and writers of its JSON and CSV files.

Writers (training, scoring, explain, rendering), the report and ``Images/regenerate.py`` all take
their names from here. Imports nothing of the project's (and no TensorFlow).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from pathlib import Path

MODEL = "model.keras"  # the trained model (raw RGB 0-255 in)
MODEL_PARTIAL = "model.partial.keras"  # written first, renamed to MODEL when complete
CLASSES = "classes.json"  # class names, beside every saved model
CONFIG = "config.json"  # resolved settings and library versions
SETTINGS_FILE = "config.toml"  # the resolved settings by stage: --config OUT/config.toml replays the run
METRICS = "metrics.json"  # test metrics, pointing game, what was drawn
HISTORY = "history.csv"  # one row per epoch
PREDICTIONS = "test_predictions.csv"  # every test image's true and predicted class and probabilities
TRAINING_CURVES = "training_curves.png"
CONFUSION_MATRIX = "confusion_matrix.png"
FAITHFULNESS_CURVES = "faithfulness.png"  # deletion/insertion curves of every CAM method and baseline
SANITY_FIGURE = "sanity.png"  # the randomisation check
MAP_SCORES = "map_scores.csv"  # every scored test image's scores, one row per image and map method
REPORT = "index.html"
TRAINING_STATE = "training_state"  # resume state; removed when training finishes
CHECKPOINTS = "checkpoints"  # best.weights.h5 (validation accuracy)
BEST_WEIGHTS = "best.weights.h5"
ACTIVATIONS = "activations"  # activations/<image>/NNN_<layer>.jpg + index.json
GRID_INDEX = "index.json"
FILTERS = "filters"  # filters/<layer>.jpg (patterns beside their crops) + index.json (values, percentiles, crops)
CONCEPTS = "concepts"  # concepts/<class>.jpg (concepts by importance: crops, a map) + index.json
GRADCAM = "gradcam"  # gradcam/<image>.jpg
MISCLASSIFIED = "misclassified"  # misclassified/<image>.jpg
EPOCHS = "epochs"  # epochs/NNN/<image>.jpg + maps.npz per explained epoch; epochs/<image>_strip.jpg, <image>.gif
COMPARE = "compare"  # compare/<image>.jpg: every CAM method and baseline side by side (--compare-cams)
DEMO_DATA = "data"  # --demo: data/flowers (generated) and data/split
TRAINING_SUMMARY = "training.json"  # epochs run, best validation accuracy, why training stopped, seconds
LOCK = ".visconvnets.lock"  # the process using OUT (pid, host, start time); see ``run.state``
TENSORBOARD = "tensorboard"  # --tensorboard: train/, explain/, phases/
# everything a run writes under OUT (not DEMO_DATA, not the lock): what --restart and a new demo remove
RUN_OUTPUTS = (
    REPORT,
    METRICS,
    MODEL,
    MODEL_PARTIAL,
    CLASSES,
    TRAINING_SUMMARY,
    HISTORY,
    PREDICTIONS,
    TRAINING_CURVES,
    CONFUSION_MATRIX,
    FAITHFULNESS_CURVES,
    SANITY_FIGURE,
    MAP_SCORES,
    TRAINING_STATE,
    CHECKPOINTS,
    ACTIVATIONS,
    FILTERS,
    CONCEPTS,
    GRADCAM,
    MISCLASSIFIED,
    EPOCHS,
    COMPARE,
    TENSORBOARD,
)
SPLIT_CSV = "split.csv"  # written by create_train_val_test.py inside the split folder


def image_stem(path: Path | str) -> str:
    """The name of an image's pictures: ``<class folder>_<file stem>`` (``rose_rose_0001``)."""
    return f"{Path(path).parent.name}_{Path(path).stem}"


def grid_file_name(position: int, layer_name: str) -> str:
    """File of one activation grid: ``NNN_<layer>.jpg``, NNN its depth position."""
    return f"{position:03d}_{layer_name}.jpg"


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """Paths under one run's output folder."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    def __truediv__(self, name: str) -> Path:
        return self.root / name

    def activation_folder(self, image: Path | str) -> Path:
        return self.root / ACTIVATIONS / image_stem(image)

    def filter_grid(self, layer_name: str) -> Path:
        return self.root / FILTERS / f"{layer_name}.jpg"

    def concept_sheet(self, class_name: str) -> Path:
        return self.root / CONCEPTS / f"{class_name}.jpg"

    def cam_panel(self, image: Path | str) -> Path:
        return self.root / GRADCAM / f"{image_stem(image)}.jpg"

    def failure_panel(self, image: Path | str) -> Path:
        return self.root / MISCLASSIFIED / f"{image_stem(image)}.jpg"

    def comparison_panel(self, image: Path | str) -> Path:
        return self.root / COMPARE / f"{image_stem(image)}.jpg"


def as_layout(folder: RunLayout | Path | str) -> RunLayout:
    """``folder`` as a ``RunLayout``: the run's own passed on as it is, a folder (a caller by hand) wrapped."""
    return folder if isinstance(folder, RunLayout) else RunLayout(Path(folder))


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically (a temporary file, then renamed: never a half-written file at ``path``)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def write_json(path: Path, payload: dict) -> Path:
    """Write JSON atomically (``write_text``)."""
    return write_text(path, json.dumps(payload, indent=2, default=str))


def read_json(path: Path) -> dict:
    """A JSON file's object, or {} when the file does not exist."""
    path = Path(path)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def write_predictions_csv(
    path: Path, relative_paths: Sequence[str], labels: Sequence[int], probabilities, classes: Sequence[str]
) -> Path:
    """One row per test image: path (relative to the data folder), true and predicted class, and
    every class probability (``probabilities`` is (n, classes))."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "true", "predicted", *classes])
        for relative, label, row in zip(relative_paths, labels, probabilities):
            predicted = max(range(len(row)), key=row.__getitem__)
            writer.writerow([relative, classes[label], classes[predicted], *(f"{value:.7g}" for value in row)])
    return Path(path)


def write_csv(path: Path, header: Sequence[str], rows) -> Path:
    """A CSV file with a header, written atomically (``write_text``); floats to 7 significant digits."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([f"{value:.7g}" if isinstance(value, float) else value for value in row] for row in rows)
    return write_text(path, buffer.getvalue())


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file with a header (``test_predictions.csv``, ``history.csv``, ``split.csv``);
    an empty list when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


read_predictions_csv = read_csv_rows  # the name the README and Images/regenerate.py use
