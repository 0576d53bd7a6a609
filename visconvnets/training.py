"""Training: the two-phase fine-tuning recipe (or training from scratch), callbacks, resume, scale-out.

Phases:
    * pretrained weights: ``head`` (backbone frozen) then ``fine_tune`` (from ``--fine-tune-from``
      upwards, BatchNormalization kept frozen and in inference mode, low learning rate);
    * ``--weights none``: one ``scratch`` phase, every layer trains.

Resume: every phase runs under Keras's ``BackupAndRestore`` (a backup at each epoch end, in
``OUT/training_state/``), and a finished phase leaves its weights and epoch count there, so the same
command started again continues from the last finished epoch of the phase it was in.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
from pathlib import Path

from . import model as model_tools

HISTORY_COLUMNS = ("epoch", "phase", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


@dataclasses.dataclass
class Phase:
    """One call of ``fit``: which layers train, at what rate, for how many epochs."""

    name: str  # head | fine_tune | scratch
    epochs: int
    learning_rate: float


def configure_devices(logical_cpus: int = 0, mixed_precision: bool = False) -> None:
    """Split the CPU into ``logical_cpus`` devices (for MirroredStrategy on CPU; must run before
    TensorFlow touches a device) and set the mixed-precision policy."""
    import keras
    import tensorflow as tf

    if logical_cpus and logical_cpus > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed_precision else "float32")


def make_strategy(kind: str):
    """``none``: the default strategy; ``mirrored``: all local GPUs, else all logical CPUs;
    ``multiworker``: ``MultiWorkerMirroredStrategy`` configured by the ``TF_CONFIG`` variable."""
    import tensorflow as tf

    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        devices = [device.name for device in tf.config.list_logical_devices("GPU")]
        devices = devices or [device.name for device in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if kind == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribute multiworker needs the TF_CONFIG environment variable (cluster and task)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"--distribute must be none, mirrored or multiworker, got {kind!r}")


def is_chief() -> bool:
    """True unless TF_CONFIG names this process as a non-chief worker (which must not write outputs)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = config.get("task", {})
    if not task:
        return True
    return task.get("type") == "chief" or (task.get("type") == "worker" and int(task.get("index", 0)) == 0 and "chief" not in config.get("cluster", {}))


def history_callback(path: Path, phase: str):
    """A Keras callback writing one CSV row per finished epoch, epochs counted on across phases and
    resumes (1-based). Rows at or after a re-run epoch are replaced, never duplicated."""
    import keras

    class HistoryCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            rows = [row for row in read_history(path) if int(row["epoch"]) < epoch + 1]
            learning_rate = logs.get("learning_rate")
            if learning_rate is None:
                learning_rate = _current_learning_rate(self.model.optimizer)
            rows.append({
                "epoch": epoch + 1, "phase": phase,
                **{key: logs.get(key, "") for key in HISTORY_COLUMNS[2:6]},
                "learning_rate": learning_rate,
            })
            _write_csv_atomically(path, rows)

    return HistoryCallback()


def _current_learning_rate(optimizer) -> float:
    try:
        return float(optimizer.learning_rate.numpy()) if hasattr(optimizer.learning_rate, "numpy") else float(optimizer.learning_rate)
    except (TypeError, ValueError):
        return float("nan")


def _write_csv_atomically(path: Path, rows: list[dict]) -> None:
    temporary = path.with_suffix(".csv.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in HISTORY_COLUMNS})
    temporary.replace(path)


def read_history(path: Path) -> list[dict[str, str]]:
    """Rows of ``history.csv`` (empty list when it does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def make_optimizer(learning_rate: float, schedule: str, total_steps: int):
    """Adam at ``learning_rate``, constant or with cosine decay to 0 over ``total_steps``."""
    import keras

    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, total_steps))
    elif schedule == "constant":
        rate = learning_rate
    else:
        raise ValueError(f"--lr-schedule must be constant or cosine, got {schedule!r}")
    return keras.optimizers.Adam(learning_rate=rate)


def plan_phases(pretrained: bool, epochs: int, fine_tune_epochs: int, learning_rate: float, fine_tune_learning_rate: float) -> list[Phase]:
    """The phases a run trains, in order (a phase with 0 epochs is left out)."""
    if not pretrained:
        phases = [Phase("scratch", epochs, learning_rate)]
    else:
        phases = [Phase("head", epochs, learning_rate), Phase("fine_tune", fine_tune_epochs, fine_tune_learning_rate)]
    return [phase for phase in phases if phase.epochs > 0]


def train(
    model,
    train_dataset,
    validation_dataset,
    phases: list[Phase],
    state_dir: Path,
    history_path: Path,
    steps_per_epoch: int,
    fine_tune_from: str = "mixed9",
    lr_schedule: str = "constant",
    patience: int = 5,
    strategy=None,
    verbose: int = 1,
) -> dict:
    """Run every phase with checkpoints, early stopping, NaN guard, history and resume.

    Args:
        model: From ``model.build_model``, built under ``strategy``'s scope.
        train_dataset, validation_dataset: From ``data.make_dataset`` (validation may be None).
        phases: From ``plan_phases``.
        state_dir: Holds backups and finished-phase markers; removed by the caller when done.
        history_path: ``OUT/history.csv``.
        steps_per_epoch: Batches per epoch (for the cosine schedule).
        fine_tune_from: Layer whose block starts the trainable part in the ``fine_tune`` phase.
        patience: Early-stopping patience in epochs (on validation accuracy).

    Returns:
        {"epochs_run": total epochs, "best_val_accuracy": float or None, "stopped": reason or None}.
    """
    import keras
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    progress_path = state_dir / "progress.json"
    progress = json.loads(progress_path.read_text()) if progress_path.exists() else {"finished": [], "epochs": 0, "best": None}
    stopped = None
    for phase in phases:
        if phase.name in progress["finished"]:
            print(f"phase {phase.name}: already finished in an earlier run, skipped")
            continue
        finished_weights = state_dir / "after_previous_phase.weights.h5"
        with strategy.scope():
            if finished_weights.exists():
                model.load_weights(finished_weights)
            if phase.name == "head":
                model_tools.freeze_backbone(model)
            elif phase.name == "fine_tune":
                model_tools.freeze_backbone(model)
                trainable = model_tools.unfreeze_from(model, fine_tune_from)
                print(f"phase fine_tune: {len(trainable)} backbone layers train, from {trainable[0]} to {trainable[-1]}")
            else:
                for layer in model.layers:
                    layer.trainable = True
            total_steps = steps_per_epoch * phase.epochs
            model.compile(
                optimizer=make_optimizer(phase.learning_rate, lr_schedule, total_steps),
                loss=keras.losses.SparseCategoricalCrossentropy(),
                metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
            )
        initial_epoch = progress["epochs"]
        callbacks = [
            keras.callbacks.BackupAndRestore(str(state_dir / f"backup_{phase.name}"), double_checkpoint=True, delete_checkpoint=False),
            history_callback(history_path, phase.name),
            keras.callbacks.TerminateOnNaN(),
        ]
        if validation_dataset is not None:
            callbacks += [
                keras.callbacks.ModelCheckpoint(
                    str(state_dir.parent / "checkpoints" / "best.weights.h5"), monitor="val_accuracy", mode="max",
                    save_best_only=True, save_weights_only=True, initial_value_threshold=progress["best"],
                ),
                keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True),
            ]
        (state_dir.parent / "checkpoints").mkdir(parents=True, exist_ok=True)
        print(f"phase {phase.name}: epochs {initial_epoch + 1}-{initial_epoch + phase.epochs}, learning rate {phase.learning_rate:g} ({lr_schedule})")
        history = model.fit(
            train_dataset, validation_data=validation_dataset, epochs=initial_epoch + phase.epochs,
            initial_epoch=initial_epoch, callbacks=callbacks, verbose=verbose, shuffle=False,  # shuffled in tf.data
        )
        model._initial_epoch = None  # set by BackupAndRestore; must not leak into the next phase
        rows = [row for row in read_history(history_path) if row["phase"] == phase.name]
        if any(not math.isfinite(float(value)) for row in rows for value in (row["loss"],) if value != ""):
            stopped = f"loss became NaN in phase {phase.name}"
        values = [float(row["val_accuracy"]) for row in read_history(history_path) if row.get("val_accuracy")]
        progress["best"] = max(values) if values else None
        progress["epochs"] = int(rows[-1]["epoch"]) if rows else initial_epoch
        progress["finished"].append(phase.name)
        if history.history and model.stop_training and stopped is None and len(history.epoch) < phase.epochs:
            stopped = f"early stopping in phase {phase.name}"
        model.save_weights(finished_weights)
        progress_path.write_text(json.dumps(progress))
        shutil.rmtree(state_dir / f"backup_{phase.name}", ignore_errors=True)
        if stopped and "NaN" in stopped:
            break
    return {"epochs_run": progress["epochs"], "best_val_accuracy": progress["best"], "stopped": stopped}
