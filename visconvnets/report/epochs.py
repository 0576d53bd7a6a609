"""The report's "Training, epoch by epoch" section: the probes' strips and GIFs, and the numbers per epoch."""

from __future__ import annotations

from pathlib import Path

from .. import outputs
from .markup import escape, image, table

NUMBER_COLUMNS = (("accuracy", "train accuracy"), ("probe_accuracy", "probe accuracy"), ("cam_drift", "cam drift"))


def _cell(value: str) -> str:
    return f"{float(value):.2f}" if value not in ("", None) else "-"


def epochs_section(out_dir: Path) -> list[str]:
    """Strips (eager: they sit near the top), each with its GIF, and the per-epoch table from history.csv."""
    folder = out_dir / outputs.EPOCHS
    strips = sorted(folder.glob("*_strip.jpg")) if folder.is_dir() else []
    if not strips:
        return []
    rows = [
        row for row in outputs.read_csv_rows(out_dir / outputs.HISTORY) if row.get("probe_accuracy") not in ("", None)
    ]
    columns = list(NUMBER_COLUMNS) + (
        [("pointing_game", "pointing game")] if any(r.get("pointing_game") for r in rows) else []
    )
    parts = [
        "<h2 id='epochs'>Training, epoch by epoch</h2>",
        "<p>The same validation images explained at the end of every epoch: each frame is the map for the image's "
        "true class, labelled with the epoch, the class the model predicted then and its probability. "
        "<em>cam drift</em> is how much the map still moves (1 - overlap of the top 20% of cells with the previous "
        "epoch's map; 0: not at all).</p>",
        table(
            ["epoch", *[label for _, label in columns]],
            [[row["epoch"], *[_cell(row.get(key)) for key, _ in columns]] for row in rows],
        ),
    ]
    figures = []
    for strip in strips:
        name = strip.name.removesuffix("_strip.jpg")
        gif = folder / f"{name}.gif"
        link = f" · <a href='{escape(gif.relative_to(out_dir).as_posix())}'>animated</a>" if gif.exists() else ""
        figures.append(
            f"<figure>{image(out_dir, strip, name, lazy=False)}<figcaption>{escape(name)}{link}</figcaption></figure>"
        )
    parts.append(f"<div class='gallery'>{''.join(figures)}</div>")
    return parts
