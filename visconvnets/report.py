"""OUT/index.html: one static page linking every output, relative links only, no external assets."""

from __future__ import annotations

import html
import json
from pathlib import Path

from . import outputs

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;
color:#222}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.warning{background:#fff4d6;border:1px solid #e0b44a;padding:.6em 1em;border-radius:4px}
.gallery{display:flex;flex-wrap:wrap;gap:12px} .gallery figure{margin:0;max-width:100%}
.gallery img{max-width:100%;border:1px solid #ddd} figcaption{font-size:.85em;color:#555}
details{margin:.4em 0} summary{cursor:pointer;font-weight:600}
.grids figure{margin:.6em 0} .grids img{max-width:100%;border:1px solid #ddd}
nav a{margin-right:1em} code{background:#f4f4f4;padding:0 .2em}
"""


def _escape(value) -> str:
    return html.escape(str(value), quote=True)


def _image(out_dir: Path, path: Path, alt: str, lazy: bool = True) -> str:
    relative = Path(path).relative_to(out_dir).as_posix()
    loading = ' loading="lazy"' if lazy else ""
    return f'<a href="{_escape(relative)}"><img src="{_escape(relative)}" alt="{_escape(alt)}"{loading}></a>'


def _figure(out_dir: Path, name: str, alt: str, caption: str) -> str:
    """One picture of OUT (loaded at once, not lazily) with its caption, in a gallery row."""
    picture = _image(out_dir, out_dir / name, alt, lazy=False)
    return f"<div class='gallery'><figure>{picture}<figcaption>{_escape(caption)}</figcaption></figure></div>"


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{_escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{_escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _summary(metrics: dict, config: dict) -> list[str]:
    parts = ["<h2 id='summary'>Run summary</h2>"]
    weights = metrics.get("weights", "?")
    model = metrics.get("model", "classifier")
    model_line = f"{_escape(model)}, {metrics.get('image_size')} px input, weights: <b>{_escape(weights)}</b>"
    parts.append(f"<p>{model_line}; classes: {_escape(', '.join(metrics.get('classes', [])))}.</p>")
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
        parts.append(_table(["class", *counts, "total"], rows))
        skipped = data.get("skipped", [])
        parts.append(f"<p>Skipped files: {len(skipped)}</p>")
        if skipped:
            parts.append(_table(["file", "reason"], [list(item) for item in skipped]))
    training = metrics.get("training")
    if training:
        parts.append(
            f"<p>Trained {training['epochs_run']} epoch(s) in {metrics.get('training_seconds', '?')} s"
            f"{'; ' + _escape(training['stopped']) if training.get('stopped') else ''}.</p>"
        )
    if config:
        settings = config.get("config", {})
        rows = [[key, json.dumps(value)] for key, value in settings.items()]
        versions = config.get("versions", {})
        parts.append(
            "<details><summary>Configuration and library versions</summary>"
            + _table(["setting", "value"], rows)
            + _table(["library", "version"], [[key, value] for key, value in versions.items()])
            + "</details>"
        )
    return parts


def _test_section(out_dir: Path, metrics: dict) -> list[str]:
    test = metrics.get("test")
    if not test:
        return []
    parts = [
        "<h2 id='test'>Test metrics</h2>",
        f"<p>Accuracy <b>{test['accuracy']:.3f}</b>, loss {test['loss']:.3f}, macro F1 {test['macro_f1']:.3f} on "
        f"{test['count']} test images.</p>",
    ]
    parts.append(
        _table(
            ["class", "precision", "recall", "F1", "support"],
            [
                [name, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", row["support"]]
                for name, row in test["per_class"].items()
            ],
        )
    )
    if (out_dir / outputs.CONFUSION_MATRIX).exists():
        parts.append(
            _figure(
                out_dir, outputs.CONFUSION_MATRIX, "confusion matrix", "Rows: true class; columns: predicted class."
            )
        )
    pointing = metrics.get("pointing_game")
    if pointing:
        parts.append(
            "<h3>Grad-CAM pointing game</h3><p>Share of test images whose Grad-CAM peak (layer "
            f"<code>{_escape(pointing['layer'])}</code>, placed at its receptive-field centre) falls inside the "
            "flower's known box.</p>"
        )
        parts.append(
            _table(
                ["model", "score"],
                [
                    ["trained", f"{pointing['trained']:.3f}"],
                    ["untrained (same architecture)", f"{pointing['untrained']:.3f}"],
                    ["always the image centre", f"{pointing['centre']:.3f}"],
                ],
            )
        )
    return parts


def _gallery(out_dir: Path, folder: str, title: str, anchor: str, note: str) -> list[str]:
    paths = sorted((out_dir / folder).glob("*.jpg"))
    parts = [f"<h2 id='{anchor}'>{_escape(title)}</h2>", f"<p>{note}</p>"]
    if not paths:
        parts.append("<p>None.</p>")
        return parts
    figures = "".join(
        f"<figure>{_image(out_dir, path, path.stem)}<figcaption>{_escape(path.stem)}</figcaption></figure>"
        for path in paths
    )
    parts.append(f"<div class='gallery'>{figures}</div>")
    return parts


def _activation_section(out_dir: Path) -> list[str]:
    root = out_dir / outputs.ACTIVATIONS
    parts = [
        "<h2 id='activations'>Activation grids</h2>",
        "<p>Every channel of every selected layer for one image; each channel standardised (mean 128, 64 per "
        "standard deviation). Dead channels (constant output) are dark tiles with a red cross.</p>",
    ]
    folders = sorted(path for path in root.iterdir() if path.is_dir()) if root.exists() else []
    if not folders:
        parts.append("<p>None.</p>")
    for folder in folders:
        index_path = folder / outputs.GRID_INDEX
        entries = (
            json.loads(index_path.read_text(encoding="utf-8"))
            if index_path.exists()
            else [
                {"file": path.name, "layer": path.stem, "shape": [], "dead": "?"}
                for path in sorted(folder.glob("*.jpg"))
            ]
        )
        figures = "".join(
            f"<figure>{_image(out_dir, folder / entry['file'], entry['layer'])}<figcaption>{_escape(entry['layer'])} "
            f"{_escape('x'.join(map(str, entry['shape'])))}, {_escape(entry['dead'])} dead channel(s)"
            "</figcaption></figure>"
            for entry in entries
        )
        parts.append(
            f"<details><summary>{_escape(folder.name)}: {len(entries)} layers</summary>"
            f"<div class='grids'>{figures}</div></details>"
        )
    return parts


def write_report(out_dir: Path) -> Path:
    """Write ``OUT/index.html`` from what the run left in ``out_dir`` (metrics.json, config.json, pictures)."""
    out_dir = Path(out_dir)
    metrics, config = outputs.read_json(out_dir / outputs.METRICS), outputs.read_json(out_dir / outputs.CONFIG)
    visualizations = metrics.get("visualizations", {})
    layer = _escape(visualizations.get("gradcam_layer", "?"))
    reason = visualizations.get("gradcam_layer_reason")
    cam = f"{visualizations.get('cam_method', 'gradcam')} at layer <code>{layer}</code>"
    cam += f", {_escape(reason)}" if reason else ""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>VisConvNets report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>VisConvNets report</h1>",
        "<nav><a href='#summary'>Summary</a><a href='#curves'>Training</a><a href='#test'>Test</a>"
        "<a href='#gradcam'>Grad-CAM</a><a href='#misclassified'>Failures</a><a href='#filters'>Filters</a>"
        "<a href='#activations'>Activations</a></nav>",
        *_summary(metrics, config),
        "<h2 id='curves'>Training curves</h2>",
    ]
    if (out_dir / outputs.TRAINING_CURVES).exists():
        caption = "Loss and accuracy per epoch, train vs validation; dotted lines mark phase changes."
        parts.append(_figure(out_dir, outputs.TRAINING_CURVES, "training curves", caption))
    else:
        parts.append("<p>No training in this run (a saved model was loaded).</p>")
    parts += _test_section(out_dir, metrics)
    parts += _gallery(
        out_dir,
        outputs.GRADCAM,
        "Grad-CAM",
        "gradcam",
        f"Input, heatmap ({cam}) and overlay at the photo's own resolution, each cell drawn at its receptive-field "
        "centre.",
    )
    parts += _gallery(
        out_dir,
        outputs.MISCLASSIFIED,
        "Failure gallery",
        "misclassified",
        "Every misclassified test image (capped): the map for the predicted class beside the map for the true class.",
    )
    parts += _gallery(
        out_dir,
        outputs.FILTERS,
        "Filter patterns",
        "filters",
        "Inputs that maximise each filter (gradient ascent with jitter, blur and octaves), first filters of each "
        "layer.",
    )
    parts += _activation_section(out_dir)
    parts.append("<p><small>Written by visconvnets; every picture was made by this run.</small></p></body></html>")
    path = out_dir / outputs.REPORT
    temporary = out_dir / (outputs.REPORT + ".tmp")
    temporary.write_text("\n".join(parts), encoding="utf-8")
    temporary.replace(path)
    return path
