"""The report's sections from metrics.json and the pictures in OUT, as plain values for the templates."""

from __future__ import annotations

import json
from pathlib import Path

from ...settings import outputs
from .markup import picture


def summary(metrics: dict, config: dict) -> dict:
    """The run summary: model, data counts, skipped files, training, settings and versions."""
    found = {
        "model": metrics.get("model", "classifier"),
        "model_notes": list(metrics.get("model_notes", [])),  # how a user's model is read (heads, grey, size)
        "image_size": metrics.get("image_size"),
        "weights": metrics.get("weights", "?"),
        "classes": metrics.get("classes", []),
        "from_scratch": bool(metrics.get("trained_from_scratch")),
        "counts": None,
        "skipped": [],
        "training": None,
        "settings": None,
        "versions": [],
    }
    data = metrics.get("data")
    if data:
        counts, classes = data["counts"], metrics["classes"]
        rows = [
            [name] + [counts[split][name] for split in counts] + [sum(counts[split][name] for split in counts)]
            for name in classes
        ]
        totals = [sum(counts[split].values()) for split in counts]
        rows.append(["total", *totals, sum(totals)])
        found["counts"] = {"header": ["class", *counts, "total"], "rows": rows}
        found["skipped"] = [list(item) for item in data.get("skipped", [])]
    training = metrics.get("training")
    if training:
        found["training"] = {
            "epochs_run": training["epochs_run"],
            "seconds": metrics.get("training_seconds", "?"),
            "stopped": training.get("stopped"),
        }
    if config:
        found["settings"] = [[key, json.dumps(value)] for key, value in config.get("config", {}).items()]
        found["versions"] = [[key, value] for key, value in config.get("versions", {}).items()]
    return found


def test_section(out_dir: Path, metrics: dict) -> dict | None:
    """Test metrics, the confusion matrix and the pointing game; None without a test split."""
    test = metrics.get("test")
    if not test:
        return None
    per_class = [
        [name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", row["support"]]
        for name, row in test["per_class"].items()
    ]
    confusion = out_dir / outputs.CONFUSION_MATRIX
    pointing = metrics.get("pointing_game")
    return {
        **{key: test[key] for key in ("accuracy", "loss", "macro_f1", "count")},
        "per_class": per_class,
        "confusion": picture(out_dir, confusion, "confusion matrix", lazy=False) if confusion.exists() else None,
        "pointing": pointing
        and {
            "layer": pointing["layer"],
            "rows": [
                ["trained", f"{pointing['trained']:.3f}"],
                ["untrained (same architecture)", f"{pointing['untrained']:.3f}"],
                ["always the image centre", f"{pointing['centre']:.3f}"],
            ],
        },
    }


def gallery(
    out_dir: Path, folder: str, title: str, anchor: str, note: str, order: list[str] | None = None, lazy: bool = True
) -> dict:
    """A titled gallery of ``OUT/folder/*.jpg``: in ``order`` (file stems) when given, else by name;
    ``lazy=False`` for a gallery near the top of the page (a lazy image there may never be fetched)."""
    paths = sorted((out_dir / folder).glob("*.jpg"))
    if order:
        rank = {stem: index for index, stem in enumerate(order)}
        paths.sort(key=lambda path: (rank.get(path.stem, len(rank)), path.name))
    pictures = [picture(out_dir, path, path.stem, lazy) for path in paths]
    return {"title": title, "anchor": anchor, "note": note, "pictures": pictures}


def timing(metrics: dict) -> dict | None:
    """Where the run's time went (``metrics.json`` -> ``timings``): {parts: [text], total: seconds or None, priced:
    whether the stages' passes were priced}; a stage that ran model passes says how many times their cost it took
    (``run.costs``)."""
    timings = dict(metrics.get("timings") or {})
    if not timings:
        return None
    epochs, first_steps = timings.pop("epochs", []), timings.pop("first_steps", {})
    total, costs = timings.pop("total", None), timings.pop("costs", {})
    timings.pop("pass_costs", None)
    parts = []
    for name, seconds in timings.items():
        ratio = (costs.get(name) or {}).get("ratio")
        parts.append(f"{name} {seconds:.1f} s" + (f" ({ratio:.1f}x its passes)" if ratio is not None else ""))
    if epochs:
        steps = ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in first_steps.items())
        parts.append(
            f"{len(epochs)} epochs of {min(epochs):.1f}-{max(epochs):.1f} s"
            + (f" (first step of each phase, graph tracing included: {steps})" if steps else "")
        )
    return {"parts": parts, "total": total, "priced": bool(costs)}


def curves(out_dir: Path) -> dict:
    """The training-curves figure and what it shows, from the run's own history (validation? phases?)."""
    if not (out_dir / outputs.TRAINING_CURVES).exists():
        return {"picture": None, "caption": ""}
    rows = outputs.read_csv_rows(out_dir / outputs.HISTORY)
    validated = any(row.get("val_accuracy") not in ("", None) for row in rows)
    phases = list(dict.fromkeys(row["phase"] for row in rows))
    caption = "Loss and accuracy per epoch, " + (
        "train (solid) vs validation (dashed)" if validated else "training only"
    )
    caption += f"; dotted lines mark the change from {' to '.join(phases)}." if len(phases) > 1 else "."
    figure = picture(out_dir, out_dir / outputs.TRAINING_CURVES, "training curves", lazy=False)
    return {"picture": figure, "caption": caption}
