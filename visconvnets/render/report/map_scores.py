"""The section "Can these maps be trusted?": every method and baseline scored, best per column marked,
the findings in plain words, the curves and the randomisation check."""

from __future__ import annotations

from pathlib import Path

from ...settings import outputs
from .markup import picture

# (key in metrics.json, column title, True when higher is better)
SCORE_COLUMNS = (
    ("deletion_auc", "deletion AUC (lower is better)", False),
    ("insertion_auc", "insertion AUC (higher is better)", True),
    ("road_combined", "ROAD combined (higher is better)", True),
    ("pointing_game", "pointing game (higher is better)", True),
)


def _score_rows(methods: dict, comparisons: list[dict]) -> tuple[list[str], list[dict]]:
    """(column titles, one row per method: name, baseline, pixels, seconds, cells {mean, low, high, best, beats,
    loses}: the baselines the method is decided better and worse than on that score)."""
    columns = [column for column in SCORE_COLUMNS if all(column[0] in row for row in methods.values())]
    verdicts = {}  # (method, score) -> {"better": [baseline, ...], "worse": [...]}
    for comparison in comparisons:
        cell = verdicts.setdefault((comparison["method"], comparison["score"]), {"better": [], "worse": []})
        if comparison["verdict"] in cell:
            cell[comparison["verdict"]].append(comparison["baseline"])
    best = {}
    for key, _, higher in columns:
        means = {name: row[key]["mean"] for name, row in methods.items()}
        best[key] = (max if higher else min)(means, key=means.get)
    rows = []
    for name, row in methods.items():
        cells = []
        for key, _, _ in columns:
            low, high = row[key]["ci95"]
            decided = verdicts.get((name, key), {"better": [], "worse": []})
            cells.append(
                {
                    "mean": row[key]["mean"],
                    "low": low,
                    "high": high,
                    "best": best[key] == name,
                    "beats": decided["better"],
                    "loses": decided["worse"],
                }
            )
        kind = {"baseline": bool(row.get("baseline")), "pixels": bool(row.get("pixels")), "seconds": row.get("seconds")}
        kind["images"] = row.get("images")
        rows.append({"name": name, **kind, "cells": cells})
    return [title for _, title, _ in columns], rows


def scores_section(out_dir: Path, metrics: dict) -> dict | None:
    """The section's values; None when the run did not score its maps."""
    faithfulness, sanity = metrics.get("faithfulness"), metrics.get("sanity")
    if not faithfulness:
        return None
    columns, rows = _score_rows(faithfulness["methods"], faithfulness.get("comparisons", []))
    curves = out_dir / outputs.FAITHFULNESS_CURVES
    sanity_figure = out_dir / outputs.SANITY_FIGURE
    return {
        "count": faithfulness["count"],
        "method_images": faithfulness.get("method_images", faithfulness["count"]),
        "removal": (faithfulness.get("removal") or {}).get("used", "blur"),
        "layer": faithfulness["layer"],
        "columns": columns,
        "rows": rows,
        "findings": faithfulness.get("findings", []) + (sanity or {}).get("findings", []),
        "curves": picture(out_dir, curves, "deletion and insertion curves", lazy=False) if curves.exists() else None,
        "sanity": (
            {
                "methods": list(sanity["methods"]),
                "picture": picture(out_dir, sanity_figure, "randomisation check", lazy=False),
            }
            if sanity and sanity_figure.exists()
            else None
        ),
    }
