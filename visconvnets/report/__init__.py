"""OUT/index.html: one static page linking every output, relative links only, no external assets."""

from __future__ import annotations

from pathlib import Path

from .. import outputs
from .browser import activation_section
from .epochs import epochs_section
from .markup import STYLE, escape, figure
from .sections import (
    curves_caption,
    gallery,
    health_box,
    summary,
    test_section,
    timing_line,
)
from .trust import trust_section


def write_report(out_dir: Path) -> Path:
    """Write ``OUT/index.html`` from what the run left in ``out_dir`` (metrics.json, config.json, pictures)."""
    out_dir = Path(out_dir)
    metrics, config = outputs.read_json(out_dir / outputs.METRICS), outputs.read_json(out_dir / outputs.CONFIG)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>VisConvNets report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>VisConvNets report</h1>",
        "<nav><a href='#summary'>Summary</a><a href='#curves'>Training</a><a href='#epochs'>Epochs</a>"
        "<a href='#test'>Test</a>"
        "<a href='#trust'>Trust</a><a href='#gradcam'>Grad-CAM</a><a href='#misclassified'>Failures</a>"
        "<a href='#filters'>Filters</a><a href='#activations'>Activations</a></nav>",
        *health_box(metrics),
        *summary(metrics, config),
        *timing_line(metrics),
        "<h2 id='curves'>Training curves</h2>",
    ]
    if (out_dir / outputs.TRAINING_CURVES).exists():
        parts.append(figure(out_dir, outputs.TRAINING_CURVES, "training curves", curves_caption(out_dir)))
    else:
        parts.append("<p>No training in this run (a saved model was loaded).</p>")
    parts += epochs_section(out_dir)
    parts += test_section(out_dir, metrics)
    parts += trust_section(out_dir, metrics)
    parts += cam_galleries(out_dir, metrics)
    parts += activation_section(out_dir)
    parts.append("<p><small>Written by visconvnets; every picture was made by this run.</small></p></body></html>")
    path = out_dir / outputs.REPORT
    temporary = out_dir / (outputs.REPORT + ".tmp")
    temporary.write_text("\n".join(parts), encoding="utf-8")
    temporary.replace(path)
    return path


def cam_galleries(out_dir: Path, metrics: dict) -> list[str]:
    """The galleries of map panels (the chosen images, every method side by side, the failures) and
    of filter patterns."""
    visualizations = metrics.get("visualizations", {})
    layer = escape(visualizations.get("gradcam_layer", "?"))
    reason = visualizations.get("gradcam_layer_reason")
    cam = f"{visualizations.get('cam_method', 'gradcam')} at layer <code>{layer}</code>"
    cam += f", {escape(reason)}" if reason else ""
    parts = gallery(
        out_dir,
        outputs.GRADCAM,
        "Grad-CAM",
        "gradcam",
        f"Input, heatmap ({cam}) and overlay at the photo's own resolution, each cell drawn at its receptive-field "
        "centre.",
        lazy=False,  # near the top of the page
    )
    if (out_dir / outputs.COMPARE).is_dir():
        parts += gallery(
            out_dir,
            outputs.COMPARE,
            "Every CAM method side by side",
            "compare",
            "The same image's predicted class explained by each method at the same layer; the last three panels are "
            "baselines that know nothing of the model (random, centre, edges). Their scores are under 'Can these "
            "maps be trusted?'.",
        )
    parts += gallery(
        out_dir,
        outputs.MISCLASSIFIED,
        "Failure gallery",
        "misclassified",
        "Every misclassified test image (capped): the map for the predicted class beside the map for the true class, "
        + (
            "both on one colour scale (1 = the larger of their two peaks), so weak evidence looks weak."
            if visualizations.get("failure_maps_share_a_scale")
            else "each map scaled to its own peak (this method's maps of two classes have no common unit)."
        ),
    )
    parts += gallery(
        out_dir,
        outputs.FILTERS,
        "Filter patterns",
        "filters",
        "Inputs that maximise each filter (gradient ascent with jitter, blur and octaves), first filters of each "
        "layer, shallowest layer first.",
        order=visualizations.get("filters"),
    )
    return parts
