"""``OUT/history.csv``: one row per finished epoch, epochs counted on across phases and resumes."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import keras

from ..settings.outputs import read_csv_rows

HISTORY_COLUMNS = (
    "epoch",
    "phase",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "seconds",  # the epoch's wall time (the probe pictures included)
    "first_step_seconds",  # the phase's first batch (graph tracing included), on its first epoch in this process
    "probe_accuracy",  # from callbacks.ExplainEachEpoch, when it runs: share of probe images right
    "cam_drift",  # 1 - IoU of the top-20% cells of the probes' maps, this epoch vs the previous one
    "pointing_game",  # share of probes whose map peaks in the object's box (boxes known)
    "explain_seconds",  # what the probe pictures cost this epoch
)
LOG_COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy")  # read from Keras's logs as they are
PROBE_COLUMNS = HISTORY_COLUMNS[-4:]  # read from the logs when a probe callback put them there


class HistoryCallback(keras.callbacks.Callback):
    """Writes one CSV row per finished epoch (1-based); rows at or after a re-run epoch are replaced,
    never duplicated."""

    def __init__(self, path: Path, phase: str):
        super().__init__()
        self.path, self.phase = Path(path), phase
        self.epoch_started = self.batch_started = 0.0
        self.first_step: float | None = None  # measured once per process and phase
        self.first_step_unwritten = False  # goes into the next row written

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if self.first_step is None:
            self.batch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.first_step is None:
            self.first_step = time.perf_counter() - self.batch_started
            self.first_step_unwritten = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        rows = [row for row in read_history(self.path) if int(row["epoch"]) < epoch + 1]
        learning_rate = logs.get("learning_rate")
        if learning_rate is None:
            learning_rate = current_learning_rate(self.model.optimizer)
        rows.append(
            {
                "epoch": epoch + 1,
                "phase": self.phase,
                **{key: logs.get(key, "") for key in LOG_COLUMNS},
                "learning_rate": learning_rate,
                "seconds": round(time.perf_counter() - self.epoch_started, 2),
                "first_step_seconds": round(self.first_step, 2) if self.first_step_unwritten else "",
                **{key: logs.get(key, "") for key in PROBE_COLUMNS},
            }
        )
        self.first_step_unwritten = False
        _write_rows(self.path, rows)


def history_callback(path: Path, phase: str) -> HistoryCallback:
    """The callback that appends ``phase``'s epochs to ``path``."""
    return HistoryCallback(path, phase)


def current_learning_rate(optimizer) -> float:
    """The optimizer's learning rate now (NaN when it cannot be read as a number)."""
    try:
        rate = optimizer.learning_rate
        return float(rate.numpy()) if hasattr(rate, "numpy") else float(rate)
    except (TypeError, ValueError):
        return float("nan")


def _write_rows(path: Path, rows: list[dict]) -> None:
    temporary = path.with_suffix(".csv.tmp")
    with temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in HISTORY_COLUMNS})
    temporary.replace(path)


def read_history(path: Path) -> list[dict[str, str]]:
    """Rows of ``history.csv`` (empty list when it does not exist yet)."""
    return read_csv_rows(path)


def epoch_timings(path: Path) -> dict:
    """{"epochs": [seconds per epoch], "first_steps": {phase: seconds of its first batch, graph tracing
    included}} from ``history.csv`` (rows of epochs trained before the timing columns are left out)."""
    rows = [row for row in read_history(path) if row.get("seconds")]
    if not rows:
        return {}
    first = {row["phase"]: float(row["first_step_seconds"]) for row in rows if row.get("first_step_seconds")}
    return {"epochs": [float(row["seconds"]) for row in rows], "first_steps": first}


def run_timings(stages: dict, history_path: Path, trained: bool) -> dict:
    """Seconds per stage and, for a run that trained, each epoch and each phase's first step (history.csv)."""
    return {**stages, **epoch_timings(history_path)} if trained else dict(stages)
