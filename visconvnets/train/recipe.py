"""Training: the two-phase fine-tuning recipe (or training from scratch), callbacks and resume.

Phases:
    * pretrained weights: ``head`` (backbone frozen) then ``fine_tune`` (from ``--fine-tune-from``
      upwards, BatchNormalization kept frozen and in inference mode, low learning rate);
    * ``--weights none``: one ``scratch`` phase, every layer trains.

Resume: every phase runs under Keras's ``BackupAndRestore`` (a backup at each epoch end, in
``OUT/training_state/``), and a finished phase leaves its weights and epoch count there, so the same
command started again continues from the last finished epoch of the phase it was in.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from pathlib import Path

import keras
import tensorflow as tf

from ..models import build, keras_internals
from ..settings import outputs
from ..settings.names import SCHEDULES
from . import cluster
from .history import history_callback, read_history

FINISHED_WEIGHTS = "after_previous_phase.weights.h5"  # in the state folder: weights after the last finished phase
PARTIAL_WEIGHTS = "after_previous_phase.partial.weights.h5"  # FINISHED_WEIGHTS while being written
PROGRESS = "progress.json"  # in the state folder: finished phases, epochs so far, best validation accuracy


@dataclasses.dataclass
class Phase:
    """One call of ``fit``: which layers train, at what rate, for how many epochs."""

    name: str  # head | fine_tune | scratch
    epochs: int
    learning_rate: float


@dataclasses.dataclass
class Recipe:
    """How every phase trains: schedule, fine-tune boundary, early stopping, progress output."""

    steps_per_epoch: int  # batches per epoch (for the cosine schedule)
    fine_tune_from: str  # layer whose block starts the trainable part in the fine_tune phase
    lr_schedule: str  # constant | cosine
    patience: int  # early-stopping patience in epochs (on validation accuracy)
    verbose: int = 1  # Keras progress
    run_eagerly: bool = False  # no tf.function: slower steps, no tracing (tiny runs, debugging)
    gradient_clip: float | None = None  # global-norm clip of the gradients; None: none
    extra_callbacks: tuple = ()  # run first at every epoch end, before the history row and the backup
    backup_every: float = 0.0  # seconds of training between resume backups; 0: every epoch


def make_optimizer(learning_rate: float, schedule: str, total_steps: int, clip_norm: float | None = None):
    """Adam at ``learning_rate``, constant or with cosine decay to 0 over ``total_steps``; the gradients
    clipped to global norm ``clip_norm`` first when given (against rare huge gradients from scratch)."""
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, total_steps))
    elif schedule == "constant":
        rate = learning_rate
    else:
        raise ValueError(f"--lr-schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    return keras.optimizers.Adam(learning_rate=rate, global_clipnorm=clip_norm)


def plan_phases(
    pretrained: bool, epochs: int, fine_tune_epochs: int, learning_rate: float, fine_tune_learning_rate: float
) -> list[Phase]:
    """The phases a run trains, in order (a phase with 0 epochs is left out)."""
    if not pretrained:
        phases = [Phase("scratch", epochs, learning_rate)]
    else:
        phases = [Phase("head", epochs, learning_rate), Phase("fine_tune", fine_tune_epochs, fine_tune_learning_rate)]
    return [phase for phase in phases if phase.epochs > 0]


def _prepare_phase(model, phase: Phase, recipe: Recipe, finished_weights: Path, element_spec) -> None:
    """Load the previous phase's weights, choose what trains, compile (call under the strategy's scope)."""
    if finished_weights.exists():
        model.load_weights(finished_weights)
    if phase.name == "head":
        build.freeze_backbone(model)
    elif phase.name == "fine_tune":
        build.freeze_backbone(model)
        trainable = build.unfreeze_from(model, recipe.fine_tune_from)
        print(f"phase fine_tune: {len(trainable)} backbone layers train, from {trainable[0]} to {trainable[-1]}")
    else:
        for layer in model.layers:
            layer.trainable = True
    model.compile(
        optimizer=make_optimizer(
            phase.learning_rate, recipe.lr_schedule, recipe.steps_per_epoch * phase.epochs, recipe.gradient_clip
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        run_eagerly=recipe.run_eagerly,
    )
    # Built now, not inside fit's first step: a step that creates variables is traced twice by
    # tf.function, and one trace of InceptionV3's train step is expensive (BENCHMARKS.md).
    keras_internals.build_training_state(model, element_spec)


def _callbacks(
    phase: Phase,
    recipe: Recipe,
    state_dir: Path,
    history_path: Path,
    validating: bool,
    best_so_far: float | None,
) -> list:
    """The recipe's extra callbacks (e.g. the epoch pictures, which put numbers in the logs), history, NaN guard, with
    validation the best checkpoint and early stopping, and last the backup (resume): an epoch killed
    before its backup is redone whole, its row and pictures replaced, never missing."""
    callbacks = [*recipe.extra_callbacks, history_callback(history_path, phase.name), keras.callbacks.TerminateOnNaN()]
    if validating:
        checkpoints = state_dir.parent / outputs.CHECKPOINTS
        callbacks += [
            keras.callbacks.ModelCheckpoint(
                str(checkpoints / outputs.BEST_WEIGHTS),
                monitor="val_accuracy",
                mode="max",
                save_best_only=True,
                save_weights_only=True,
                initial_value_threshold=best_so_far,
            ),
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", mode="max", patience=recipe.patience, restore_best_weights=True
            ),
        ]
    repaired = keras_internals.repair_backup(state_dir / f"backup_{phase.name}")  # cut short by a kill -9?
    if repaired:
        print(f"note: {repaired}")
    return [*callbacks, SpacedBackup(state_dir / f"backup_{phase.name}", recipe.backup_every)]


class SpacedBackup(keras.callbacks.BackupAndRestore):
    """Keras's resume backup, written at an epoch end only once ``every_seconds`` have passed since the fit
    began or since the last backup, and never at the fit's last epoch (the caller saves the phase's weights
    right after it). A killed run loses at most that much training; each backup of InceptionV3 (~90 MB)
    costs about a second, which 6 short epochs would otherwise pay 6 times."""

    def __init__(self, backup_dir: Path, every_seconds: float = 0.0):
        super().__init__(str(backup_dir), double_checkpoint=True, delete_checkpoint=False)
        self.every_seconds, self.last_backup = every_seconds, time.monotonic()

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.last_backup = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 >= self.params.get("epochs", epoch + 2):  # the last epoch: its weights are saved next
            return
        if time.monotonic() - self.last_backup >= self.every_seconds:
            super().on_epoch_end(epoch, logs)
            self.last_backup = time.monotonic()


def _phase_outcome(phase: Phase, history, model, history_path: Path, progress: dict, initial_epoch: int) -> str | None:
    """Update ``progress`` from ``history.csv`` after a phase; the reason training stopped early, if any."""
    history_rows = read_history(history_path)
    rows = [row for row in history_rows if row["phase"] == phase.name]
    stopped = None
    if any(row["loss"] != "" and not math.isfinite(float(row["loss"])) for row in rows):
        stopped = f"loss became NaN in phase {phase.name}"
    values = [float(row["val_accuracy"]) for row in history_rows if row.get("val_accuracy")]
    progress["best"] = max(values) if values else None
    progress["epochs"] = int(rows[-1]["epoch"]) if rows else initial_epoch
    progress["finished"].append(phase.name)
    if history.history and model.stop_training and stopped is None and len(history.epoch) < phase.epochs:
        stopped = f"early stopping in phase {phase.name}"
    return stopped


def train(
    model,
    train_dataset,
    validation_dataset,
    phases: list[Phase],
    state_dir: Path,
    history_path: Path,
    recipe: Recipe,
    strategy=None,
) -> dict:
    """Run every phase with checkpoints, early stopping, NaN guard, history and resume.

    Args:
        model: From ``model.build_model``, built under ``strategy``'s scope.
        train_dataset, validation_dataset: From ``data.make_dataset`` (validation may be None).
        phases: From ``plan_phases``.
        state_dir: Holds backups and finished-phase markers; removed by the caller when done.
        history_path: ``OUT/history.csv``.
        recipe: Schedule, fine-tune boundary, patience, verbosity.

    Returns:
        {"epochs_run": total epochs, "best_val_accuracy": float or None, "stopped": reason or None}.
    """
    strategy = strategy or tf.distribute.get_strategy()
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir.parent / outputs.CHECKPOINTS).mkdir(parents=True, exist_ok=True)
    progress = outputs.read_json(state_dir / PROGRESS) or {"finished": [], "epochs": 0, "best": None}
    stopped, ran = None, False
    for phase in phases:
        if phase.name in progress["finished"]:
            print(f"phase {phase.name}: already finished in an earlier run, skipped")
            continue
        ran = True
        with strategy.scope():
            _prepare_phase(model, phase, recipe, state_dir / FINISHED_WEIGHTS, train_dataset.element_spec)
        initial_epoch = progress["epochs"]
        callbacks = _callbacks(phase, recipe, state_dir, history_path, validation_dataset is not None, progress["best"])
        print(
            f"phase {phase.name}: epochs {initial_epoch + 1}-{initial_epoch + phase.epochs}, "
            f"learning rate {phase.learning_rate:g} ({recipe.lr_schedule})"
        )
        history = cluster.fit_phase(
            model, strategy, train_dataset, validation_dataset, initial_epoch, phase.epochs, callbacks, recipe.verbose
        )
        keras_internals.clear_restored_epoch(model)  # set by BackupAndRestore; must not leak into the next phase
        outcome = _phase_outcome(phase, history, model, history_path, progress, initial_epoch)
        if outcome and ("NaN" in outcome or stopped is None):  # a NaN is always told; else the first early stop
            stopped = outcome
        model.save_weights(state_dir / PARTIAL_WEIGHTS)  # then renamed: a kill never leaves half a file
        (state_dir / PARTIAL_WEIGHTS).replace(state_dir / FINISHED_WEIGHTS)
        outputs.write_json(state_dir / PROGRESS, progress)
        shutil.rmtree(state_dir / f"backup_{phase.name}", ignore_errors=True)
        if stopped and "NaN" in stopped:
            break
    if not ran and (state_dir / FINISHED_WEIGHTS).exists():
        model.load_weights(state_dir / FINISHED_WEIGHTS)  # every phase done by a killed run: its weights
    return {"epochs_run": progress["epochs"], "best_val_accuracy": progress["best"], "stopped": stopped}
