"""Watch it learn: ``ExplainEachEpoch``, a Keras callback for anyone's ``model.fit``.

At the end of every ``every``-th epoch it explains a fixed probe set (the true class and the
predicted class of each probe, in one batched pass), writes a panel per probe image to
``OUT/epochs/NNN/<name>.jpg`` and the maps to ``OUT/epochs/NNN/maps.npz``, and puts three numbers in the
epoch's logs (so ``history.csv``, Keras's ``History`` and TensorBoard all get them):

* ``cam_drift``: mean over probes of 1 - IoU of the top-20% cells of this epoch's true-class map and
  the previous explained epoch's (how much the explanation still moves; empty on the first);
* ``probe_accuracy``: share of probes classified right;
* ``pointing_game``: share of probes whose true-class map peaks inside the object's box (with boxes).

At the end of training (each ``fit``) it draws, from every epoch on disk, one strip per probe
(``OUT/epochs/<name>_strip.jpg``) and an animated GIF (``OUT/epochs/<name>.gif``). Epoch folders are
numbered as Keras counts (across phases and resumes, ``initial_epoch`` included); folders at or after
the epoch a resumed ``fit`` starts from are redone, never duplicated.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..explain import cams
from ..explain.methods import find_method
from ..models import passes
from ..models.geometry import receptive_field
from ..render import pictures
from ..render.pictures import epochs as epoch_pictures
from ..scores.pointing import cam_drift, pointing_hits
from ..settings.outputs import EPOCHS

MAPS_FILE = "maps.npz"
# explained epochs in one fit from which the pass is traced (``cams.TRACE_FROM_PASSES``): short fits stay eager
TRACE_FROM_EPOCHS = cams.TRACE_FROM_PASSES


class ExplainEachEpoch(keras.callbacks.Callback):
    """Explains a fixed probe set at the end of every ``every``-th epoch (see the module's docstring).

    Args:
        images: (n, H, W, 3) probe images in the model's input scale (raw RGB 0-255 for this project's
            models; the overlays are drawn on these values, clipped to [0, 255]).
        labels: (n,) true class indices.
        out_dir: Output folder; pictures go to ``out_dir/epochs``.
        layer_name: Layer to explain; None: the run's own choice (``cams.default_cam_layer``).
        method: A registered map method (``explain.methods.MAP_METHODS``: a CAM or a pixel method).
        boxes: (n, 4) object boxes (x0, y0, x1, y1) for the pointing game, in the pixels of
            ``original_sizes`` (default: of ``images``); None: no pointing game.
        every: Explain every this many epochs (and always the last one of a ``fit``).
        tensorboard_dir: Also write the panels and the numbers as TensorBoard summaries here.
        class_names: For the panels' text (default: class indices).
        names: File stem per probe (default: ``probe_00``, ``probe_01``...).
        original_sizes: (n, 2) (width, height) the boxes refer to.
        options: The pixel methods' options ({method: {option: value}}, ``cams.CamPass.options``).
    """

    def __init__(
        self,
        images,
        labels,
        out_dir,
        layer_name: str | None = None,
        method: str = "gradcam",
        boxes=None,
        every: int = 1,
        tensorboard_dir=None,
        *,
        class_names=None,
        names=None,
        original_sizes=None,
        options=None,
    ):
        super().__init__()
        self.images = np.asarray(images, np.float32)
        self.labels = np.asarray(labels, np.int64)
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or len(self.images) == 0:
            raise ValueError(f"images must be (n, height, width, 3) with n >= 1, got shape {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(
                f"labels must hold one class index per image ({len(self.images)}), got {self.labels.shape}"
            )
        find_method(method)  # an unknown name fails here, naming the choices
        if int(every) < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        self.boxes = None if boxes is None else np.asarray(boxes, np.float64)
        if self.boxes is not None and self.boxes.shape != (len(self.images), 4):
            raise ValueError(f"boxes must be (n, 4) for {len(self.images)} images, got {self.boxes.shape}")
        self.out_dir, self.layer_name, self.method, self.every = Path(out_dir), layer_name, method, int(every)
        self.tensorboard_dir = Path(tensorboard_dir) if tensorboard_dir else None
        self.class_names = list(class_names) if class_names is not None else None
        self.names = list(names) if names is not None else [f"probe_{index:02d}" for index in range(len(self.images))]
        self.original_sizes, self.options = original_sizes, dict(options or {})
        self.layer, self.geometry, self._writer, self._fit_started = None, None, None, False
        self._traced = False  # whether this fit's passes are traced (long fits; traced at the first epoch end)

    @property
    def folder(self) -> Path:
        return self.out_dir / EPOCHS

    def on_train_begin(self, logs=None):
        self.layer = self.layer_name or cams.default_cam_layer(self.model)
        self.geometry = receptive_field(self.model, self.layer)
        self._fit_started = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._fit_started:  # the first epoch of this fit: later folders are from a killed attempt
            for stale in explained_epochs(self.folder):
                if stale > epoch:
                    shutil.rmtree(self.folder / f"{stale:03d}", ignore_errors=True)
            self._fit_started = True
            remaining = (self.params or {}).get("epochs", epoch + 1) - epoch
            self._traced = remaining // self.every >= TRACE_FROM_EPOCHS

    def on_epoch_end(self, epoch, logs=None):
        number = epoch + 1
        last = self.params.get("epochs") if self.params else None
        if number % self.every and number != last:
            return
        started = time.perf_counter()
        true_maps, predicted_maps, probabilities, predicted = self.explain()
        values = {"probe_accuracy": float(np.mean(predicted == self.labels))}
        previous = latest_maps(self.folder, before=number)
        if previous is not None and previous.shape == true_maps.shape:
            values["cam_drift"] = cam_drift(previous, true_maps)
        if self.boxes is not None:
            side = self.images.shape[1]
            hits, _ = pointing_hits(true_maps, self.boxes, self.geometry, side, self.original_sizes)
            values["pointing_game"] = float(np.mean(hits))
        panels = self._write_epoch(number, true_maps, predicted_maps, probabilities, predicted)
        if self.tensorboard_dir:
            self._summaries(number, panels, values)
        values["explain_seconds"] = round(time.perf_counter() - started, 3)
        if logs is not None:
            logs.update(values)  # history.csv, History and TensorBoard read the same logs

    def explain(self):
        """(true-class maps (n, h, w), predicted-class maps (n, h, w), probabilities (n, classes), predicted (n,)).
        One forward and two backward passes: traced once in a fit that explains ``TRACE_FROM_EPOCHS`` epochs
        or more (``cams.trace_passes``: the pictures after training reuse the trace), eager in a shorter one.
        A wrong probe's two maps share one scale (gradient methods), like the failure gallery's."""
        if self._traced:
            cams.trace_passes(self.model, self.layer)
        predicted_maps, true_maps, probabilities, predicted = cams.contrasting_maps(
            self.model, self.images, self.labels, self.layer, self.method, shared_scale=True, options=self.options
        )
        return true_maps, predicted_maps, probabilities, predicted

    def _write_epoch(self, number: int, true_maps, predicted_maps, probabilities, predicted) -> list[np.ndarray]:
        """maps.npz (written under a temporary name, then renamed) and one panel per probe."""
        folder = self.folder / f"{number:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        panels = []
        for index, name in enumerate(self.names):
            truth, guess = int(self.labels[index]), int(predicted[index])
            lines = [
                f"epoch {number}: left, evidence for the true class {_name(self.class_names, truth)}",
                f"right, for the predicted {_name(self.class_names, guess)} ({probabilities[index, guess]:.2f})",
            ]
            image = np.clip(self.images[index], 0, 255)
            panel = epoch_pictures.epoch_panel(image, true_maps[index], predicted_maps[index], lines, self.geometry)
            pictures.save_jpeg(panel, folder / f"{name}.jpg")
            panels.append(panel)
        partial = folder / "maps.partial.npz"
        np.savez(partial, true=true_maps, predicted=predicted_maps, probabilities=probabilities)
        partial.replace(folder / MAPS_FILE)
        return panels

    def _summaries(self, number: int, panels: list[np.ndarray], values: dict) -> None:
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.tensorboard_dir / "explain"))
        with self._writer.as_default(step=number):
            tf.summary.image("probes", np.stack(panels), max_outputs=len(panels))
            for key, value in values.items():
                tf.summary.scalar(key, value)
        self._writer.flush()

    def on_train_end(self, logs=None):
        write_strips(self.folder, self.images, self.labels, self.names, self.class_names, self.geometry)


def explained_epochs(folder: Path) -> list[int]:
    """Sorted epoch numbers with a complete maps.npz under ``folder``."""
    if not folder.is_dir():
        return []
    return sorted(int(path.name) for path in folder.iterdir() if path.name.isdigit() and (path / MAPS_FILE).exists())


def latest_maps(folder: Path, before: int) -> np.ndarray | None:
    """The true-class maps of the latest explained epoch before ``before``, or None."""
    earlier = [number for number in explained_epochs(folder) if number < before]
    if not earlier:
        return None
    with np.load(folder / f"{earlier[-1]:03d}" / MAPS_FILE) as saved:
        return saved["true"]


def write_strips(folder: Path, images, labels, names, class_names=None, geometry=None) -> dict:
    """One strip and one GIF per probe from every explained epoch on disk: {name: (strip, gif)}."""
    numbers = explained_epochs(folder)
    if not numbers:
        return {}
    saved = []
    for number in numbers:
        with np.load(folder / f"{number:03d}" / MAPS_FILE) as arrays:
            saved.append((arrays["true"], arrays["probabilities"]))
    written = {}
    for index, name in enumerate(names):
        maps = np.stack([true[index] for true, _ in saved])  # (epochs, h, w)
        guesses = [probabilities[index] for _, probabilities in saved]
        labels_text = [
            f"{number}: {_name(class_names, int(p.argmax()))} {p.max():.2f}" for number, p in zip(numbers, guesses)
        ]
        image = np.clip(np.asarray(images[index], np.float32), 0, 255)
        frames = epoch_pictures.labelled_frames(image, maps, labels_text, geometry)
        title = (
            f"{name}, true class {_name(class_names, int(labels[index]))}: its map, epochs {numbers[0]}-{numbers[-1]}"
        )
        strip = epoch_pictures.save_epoch_strip(frames, folder / f"{name}_strip.jpg", title)
        written[name] = (strip, epoch_pictures.save_epoch_gif(frames, folder / f"{name}.gif"))
    return written


def _name(class_names, index: int) -> str:
    return class_names[index] if class_names else str(index)


class CountTrainingPasses(keras.callbacks.Callback):
    """Adds every epoch's images to the cost model's counter (``models.passes``): the training images as training
    passes, the validation images as forward passes when the epoch validated (its logs hold ``val_loss``)."""

    def __init__(self, train_images: int, validation_images: int):
        super().__init__()
        self.train_images, self.validation_images = int(train_images), int(validation_images)

    def on_epoch_end(self, epoch, logs=None):
        passes.add("training", self.train_images)
        if logs and "val_loss" in logs:
            passes.add("forward", self.validation_images)
