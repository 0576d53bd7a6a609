"""The report's sections from metrics.json and the pictures in OUT."""

from __future__ import annotations

import json
from pathlib import Path

from .. import outputs
from .markup import escape, figure, image, table


def summary(metrics: dict, config: dict) -> list[str]:
    parts = ["<h2 id='summary'>Run summary</h2>"]
    weights = metrics.get("weights", "?")
    model = metrics.get("model", "classifier")
    model_line = f"{escape(model)}, {metrics.get('image_size')} px input, weights: <b>{escape(weights)}</b>"
    parts.append(f"<p>{model_line}; classes: {escape(', '.join(metrics.get('classes', [])))}.</p>")
    if metrics.get("trained_from_scratch"):
        parts.append(
            "<p class='warning'><b>Trained from scratch</b> (no ImageNet weights): every picture below shows what "
            "this network learned from this data set alone, not what a pretrained network sees.</p>"
        )
    data = metrics.get("data")
    if data:
        counts = data["counts"]
        classes = metrics["classes"]
        rows = [
            [name] + [counts[split][name] for split in counts] + [sum(counts[split][name] for split in counts)]
            for name in classes
        ]
        rows.append(
            ["total"]
            + [sum(counts[split].values()) for split in counts]
            + [sum(sum(counts[split].values()) for split in counts)]
        )
        parts.append(table(["class", *counts, "total"], rows))
        skipped = data.get("skipped", [])
        parts.append(f"<p>Skipped files: {len(skipped)}</p>")
        if skipped:
            parts.append(table(["file", "reason"], [list(item) for item in skipped]))
    training = metrics.get("training")
    if training:
        parts.append(
            f"<p>Trained {training['epochs_run']} epoch(s) in {metrics.get('training_seconds', '?')} s"
            f"{'; ' + escape(training['stopped']) if training.get('stopped') else ''}.</p>"
        )
    if config:
        settings = config.get("config", {})
        rows = [[key, json.dumps(value)] for key, value in settings.items()]
        versions = config.get("versions", {})
        parts.append(
            "<details><summary>Configuration and library versions</summary>"
            + table(["setting", "value"], rows)
            + table(["library", "version"], [[key, value] for key, value in versions.items()])
            + "</details>"
        )
    return parts


def test_section(out_dir: Path, metrics: dict) -> list[str]:
    test = metrics.get("test")
    if not test:
        return []
    parts = [
        "<h2 id='test'>Test metrics</h2>",
        f"<p>Accuracy <b>{test['accuracy']:.3f}</b>, loss {test['loss']:.3f}, macro F1 {test['macro_f1']:.3f} on "
        f"{test['count']} test images.</p>",
    ]
    parts.append(
        table(
            ["class", "precision", "recall", "F1", "support"],
            [
                [name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", row["support"]]
                for name, row in test["per_class"].items()
            ],
        )
    )
    if (out_dir / outputs.CONFUSION_MATRIX).exists():
        parts.append(
            figure(out_dir, outputs.CONFUSION_MATRIX, "confusion matrix", "Rows: true class; columns: predicted class.")
        )
    pointing = metrics.get("pointing_game")
    if pointing:
        parts.append(
            "<h3>Grad-CAM pointing game</h3><p>Share of test images whose Grad-CAM peak (layer "
            f"<code>{escape(pointing['layer'])}</code>, placed at its receptive-field centre) falls inside the "
            "flower's known box.</p>"
        )
        parts.append(
            table(
                ["model", "score"],
                [
                    ["trained", f"{pointing['trained']:.3f}"],
                    ["untrained (same architecture)", f"{pointing['untrained']:.3f}"],
                    ["always the image centre", f"{pointing['centre']:.3f}"],
                ],
            )
        )
    return parts


def gallery(
    out_dir: Path, folder: str, title: str, anchor: str, note: str, order: list[str] | None = None, lazy: bool = True
) -> list[str]:
    """A titled gallery of ``OUT/folder/*.jpg``: in ``order`` (file stems) when given, else by name;
    ``lazy=False`` for a gallery near the top of the page (a lazy image there may never be fetched)."""
    paths = sorted((out_dir / folder).glob("*.jpg"))
    if order:
        rank = {stem: index for index, stem in enumerate(order)}
        paths.sort(key=lambda path: (rank.get(path.stem, len(rank)), path.name))
    parts = [f"<h2 id='{anchor}'>{escape(title)}</h2>", f"<p>{note}</p>"]
    if not paths:
        parts.append("<p>None.</p>")
        return parts
    figures = "".join(
        f"<figure>{image(out_dir, path, path.stem, lazy)}<figcaption>{escape(path.stem)}</figcaption></figure>"
        for path in paths
    )
    parts.append(f"<div class='gallery'>{figures}</div>")
    return parts


def health_box(metrics: dict) -> list[str]:
    """The box at the top: what the run's own numbers say about how far to trust its pictures."""
    items = metrics.get("health")
    if items is None:
        return []
    if not items:
        return [
            "<div class='health ok'><b>Health:</b> no check fired (accuracy above chance, maps that differ "
            "between images and beat the baselines, layers alive).</div>"
        ]
    rows = "".join(f"<li><b>{escape(item['level'])}</b>: {escape(item['message'])}</li>" for item in items)
    return [f"<div class='health warning'><b>How far to trust this run</b><ul>{rows}</ul></div>"]


def timing_line(metrics: dict) -> list[str]:
    """Where the run's time went (``metrics.json`` -> ``timings``), as one paragraph."""
    timings = dict(metrics.get("timings") or {})
    if not timings:
        return []
    epochs, first_steps = timings.pop("epochs", []), timings.pop("first_steps", {})
    total = timings.pop("total", None)
    parts = [f"{escape(name)} {seconds:.1f} s" for name, seconds in timings.items()]
    if epochs:
        steps = ", ".join(f"{escape(phase)} {seconds:.1f} s" for phase, seconds in first_steps.items())
        parts.append(
            f"{len(epochs)} epochs of {min(epochs):.1f}-{max(epochs):.1f} s"
            + (f" (first step of each phase, graph tracing included: {steps})" if steps else "")
        )
    ending = f"; {total:.0f} s in all" if total is not None else ""
    return [f"<p><b>Time:</b> {'; '.join(parts)}{ending}.</p>"]


def curves_caption(out_dir: Path) -> str:
    """What the training-curves figure shows, from the run's own history (validation? several phases?)."""
    rows = outputs.read_csv_rows(out_dir / outputs.HISTORY)  # history.csv, read as the foundation reads CSV
    validated = any(row.get("val_accuracy") not in ("", None) for row in rows)
    phases = list(dict.fromkeys(row["phase"] for row in rows))
    caption = "Loss and accuracy per epoch, " + (
        "train (solid) vs validation (dashed)" if validated else "training only"
    )
    caption += f"; dotted lines mark the change from {' to '.join(phases)}." if len(phases) > 1 else "."
    return caption
