"""``OUT/history.csv``: one row per finished epoch, epochs counted on across phases and resumes."""

from __future__ import annotations

import csv
from pathlib import Path

import keras

from .outputs import read_csv_rows

HISTORY_COLUMNS = ("epoch", "phase", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


class HistoryCallback(keras.callbacks.Callback):
    """Writes one CSV row per finished epoch (1-based); rows at or after a re-run epoch are replaced,
    never duplicated."""

    def __init__(self, path: Path, phase: str):
        super().__init__()
        self.path, self.phase = Path(path), phase

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
                **{key: logs.get(key, "") for key in HISTORY_COLUMNS[2:6]},
                "learning_rate": learning_rate,
            }
        )
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
