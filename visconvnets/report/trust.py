"""The section "Can these maps be trusted?": every method and baseline scored, best per column marked,
the findings in plain words, the curves and the randomisation check."""

from __future__ import annotations

from pathlib import Path

from .. import outputs
from .markup import escape, figure

# (key in metrics.json, column title, True when higher is better)
SCORE_COLUMNS = (
    ("deletion_auc", "deletion AUC (lower is better)", False),
    ("insertion_auc", "insertion AUC (higher is better)", True),
    ("road_combined", "ROAD combined (higher is better)", True),
    ("pointing_game", "pointing game (higher is better)", True),
)


def _cell(score: dict, best: bool) -> str:
    low, high = score["ci95"]
    text = f"{score['mean']:.3f} <small>[{low:.3f}, {high:.3f}]</small>"
    return f"<td><b>{text} &#9733;</b></td>" if best else f"<td>{text}</td>"


def _score_table(methods: dict) -> str:
    columns = [column for column in SCORE_COLUMNS if all(column[0] in row for row in methods.values())]
    best = {}
    for key, _, higher in columns:
        means = {name: row[key]["mean"] for name, row in methods.items()}
        best[key] = (max if higher else min)(means, key=means.get)
    head = "<tr><th>map</th>" + "".join(f"<th>{escape(title)}</th>" for _, title, _ in columns) + "</tr>"
    rows = []
    for name, row in methods.items():
        label = escape(name) + (" <small>(baseline)</small>" if row.get("baseline") else "")
        cells = "".join(_cell(row[key], best[key] == name) for key, _, _ in columns)
        rows.append(f"<tr><td>{label}</td>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def trust_section(out_dir: Path, metrics: dict) -> list[str]:
    """HTML parts of the section; empty when the run did not score its maps."""
    faithfulness, sanity = metrics.get("faithfulness"), metrics.get("sanity")
    if not faithfulness:
        return []
    parts = [
        "<h2 id='trust'>Can these maps be trusted?</h2>",
        f"<p>Every method and baseline explains the predicted class of the same {faithfulness['count']} test "
        f"images at layer <code>{escape(faithfulness['layer'])}</code>. <b>Deletion</b> removes pixels most relevant "
        "first (blurred) and follows the class probability: a faithful map makes it fall fast. <b>Insertion</b> "
        "reveals them on a blurred image: it should rise fast. <b>ROAD</b> removes a share of pixels, filled in from "
        "their neighbours so the hole's shape gives nothing away, most relevant first and least relevant first. "
        "Baselines know nothing of the model: a method no better than them does not explain it. Means with 95% "
        "bootstrap intervals over the images; &#9733; marks the best in each column.</p>",
        _score_table(faithfulness["methods"]),
    ]
    findings = faithfulness.get("findings", []) + (sanity or {}).get("findings", [])
    if findings:
        parts.append("<ul>" + "".join(f"<li>{escape(text)}</li>" for text in findings) + "</ul>")
    if (out_dir / outputs.FAITHFULNESS_CURVES).exists():
        caption = "Mean class probability as pixels are deleted (left) and revealed (right); dotted: baselines."
        parts.append(figure(out_dir, outputs.FAITHFULNESS_CURVES, "deletion and insertion curves", caption))
    if sanity and (out_dir / outputs.SANITY_FIGURE).exists():
        caption = (
            f"Randomisation check of {sanity['method']}: the model's weights re-initialised from the top, step by step "
            "(on a copy); similarity of the maps to the trained model's. Maps that depend on the weights fall."
        )
        parts.append(figure(out_dir, outputs.SANITY_FIGURE, "randomisation check", caption))
    return parts
