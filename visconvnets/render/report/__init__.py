"""OUT/index.html: one static page linking every output, relative links only, no external assets.

The sections (``sections``, ``epochs``, ``map_scores``, ``browser``) turn what the run left in OUT into plain
values; the Jinja2 templates in ``templates/`` (autoescaped) turn those into the page.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from ...settings import outputs
from .browser import activation_section
from .epochs import epochs_section
from .map_scores import scores_section
from .markup import render_page
from .sections import curves, gallery, summary, test_section, timing
from .units import concepts_section, filters_section


def write_report(out_dir: Path) -> Path:
    """Write ``OUT/index.html`` from what the run left in ``out_dir`` (metrics.json, config.json, pictures),
    under a temporary name first, so a page that exists is complete."""
    out_dir = Path(out_dir)
    metrics, config = outputs.read_json(out_dir / outputs.METRICS), outputs.read_json(out_dir / outputs.CONFIG)
    context = {
        "health": metrics.get("health"),  # None: not assessed; empty: no check fired
        "summary": summary(metrics, config),
        "timing": timing(metrics),
        "curves": curves(out_dir),
        "epochs": epochs_section(out_dir),
        "test": test_section(out_dir, metrics),
        "scores": scores_section(out_dir, metrics),
        "galleries": cam_galleries(out_dir, metrics),
        "filters": filters_section(out_dir),
        "concepts": concepts_section(out_dir),
        "activations": activation_section(out_dir),
    }
    path = out_dir / outputs.REPORT
    temporary = out_dir / (outputs.REPORT + ".tmp")
    temporary.write_text(render_page(context), encoding="utf-8")
    temporary.replace(path)
    return path


def cam_galleries(out_dir: Path, metrics: dict) -> list[dict]:
    """The galleries of map panels (the chosen images, every method side by side, the failures)."""
    visualizations = metrics.get("visualizations", {})
    reason = visualizations.get("gradcam_layer_reason")
    cam = Markup("{} at layer <code>{}</code>").format(
        visualizations.get("cam_method", "gradcam"), visualizations.get("gradcam_layer", "?")
    )
    cam += Markup(", {}").format(reason) if reason else ""
    sections = [
        gallery(
            out_dir,
            outputs.GRADCAM,
            "Grad-CAM",
            "gradcam",
            Markup(
                "Input, heatmap ({}) and overlay at the photo's own resolution, each cell drawn at its receptive-field "
                "centre."
            ).format(cam),
            lazy=False,  # near the top of the page
        )
    ]
    if (out_dir / outputs.COMPARE).is_dir():
        sections.append(
            gallery(
                out_dir,
                outputs.COMPARE,
                "Every CAM method side by side",
                "compare",
                "The same image's predicted class explained by each method at the same layer; the last three panels "
                "are baselines that know nothing of the model (random, centre, edges). Their scores are under 'Can "
                "these maps be trusted?'.",
            )
        )
    shared = (
        "both on one colour scale (1 = the larger of their two peaks), so weak evidence looks weak."
        if visualizations.get("failure_maps_share_a_scale")
        else "each map scaled to its own peak (this method's maps of two classes have no common unit)."
    )
    sections.append(
        gallery(
            out_dir,
            outputs.MISCLASSIFIED,
            "Failure gallery",
            "misclassified",
            "Every misclassified test image (capped): the map for the predicted class beside the map for the true "
            "class, " + shared,
        )
    )
    return sections
