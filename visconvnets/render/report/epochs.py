"""The report's "Training, epoch by epoch" section: the probes' strips and GIFs, and the numbers per epoch."""

from __future__ import annotations

from pathlib import Path

from ...settings import outputs
from .markup import picture

NUMBER_COLUMNS = (("accuracy", "train accuracy"), ("probe_accuracy", "probe accuracy"), ("cam_drift", "cam drift"))


def _cell(value: str) -> str:
    return f"{float(value):.2f}" if value not in ("", None) else "-"


def epochs_section(out_dir: Path) -> dict | None:
    """Strips (eager: they sit near the top), each with its GIF, and the per-epoch table from history.csv;
    None when the run drew no epoch pictures."""
    folder = out_dir / outputs.EPOCHS
    strips = sorted(folder.glob("*_strip.jpg")) if folder.is_dir() else []
    if not strips:
        return None
    rows = [
        row for row in outputs.read_csv_rows(out_dir / outputs.HISTORY) if row.get("probe_accuracy") not in ("", None)
    ]
    columns = list(NUMBER_COLUMNS) + (
        [("pointing_game", "pointing game")] if any(row.get("pointing_game") for row in rows) else []
    )
    found = []
    for strip in strips:
        name = strip.name.removesuffix("_strip.jpg")
        gif = folder / f"{name}.gif"
        found.append(
            {
                "name": name,
                "picture": picture(out_dir, strip, name, lazy=False),
                "gif": gif.relative_to(out_dir).as_posix() if gif.exists() else None,
            }
        )
    return {
        "header": ["epoch", *[label for _, label in columns]],
        "rows": [[row["epoch"], *[_cell(row.get(key)) for key, _ in columns]] for row in rows],
        "strips": found,
    }
