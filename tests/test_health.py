"""The health box: each check fires on the numbers that should trigger it, and only on those."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from visconvnets.render.report import write_report
from visconvnets.scores.health import assess, binomial_tail


def _score(mean: float, low: float, high: float) -> dict:
    return {"mean": mean, "ci95": [low, high]}


def _metrics(confusion, **extra) -> dict:
    return {"classes": ["daisy", "rose", "tulip"], "test": {"confusion_matrix": confusion}, **extra}


GOOD = [[9, 1, 0], [0, 10, 0], [1, 0, 9]]


def test_binomial_tail_matches_the_formula():
    assert binomial_tail(3, 4, 0.5) == pytest.approx(5 / 16)
    assert binomial_tail(0, 10, 0.3) == 1.0 and binomial_tail(11, 10, 0.3) == 0.0
    exact = sum(math.comb(20, k) * 0.2**k * 0.8 ** (20 - k) for k in range(9, 21))
    assert binomial_tail(9, 20, 0.2) == pytest.approx(exact, rel=1e-9)


def test_accuracy_at_chance_and_one_class_for_everything(tmp_path):
    messages = [item["message"] for item in assess(_metrics([[10, 0, 0], [9, 1, 0], [10, 0, 0]]), tmp_path)]
    assert any("not clearly above chance" in text and "binomial p" in text for text in messages)
    assert any("One class, daisy, is predicted for 29 of 30" in text for text in messages)
    assert assess(_metrics(GOOD), tmp_path) == []


def test_map_checks(tmp_path):
    """The run's method against the random map, from the run's paired comparisons: none decided better is a
    warning that says how many images would likely decide; one decided better, no warning."""

    def compared(score: str, verdict: str, more: int | None) -> dict:
        return {
            "method": "gradcam",
            "baseline": "random",
            "score": score,
            "images": 8,
            "verdict": verdict,
            "images_to_decide": more,
        }

    trust = {
        "layer": "mixed10",
        "cells": [3, 3],
        "map_similarity": 0.95,
        "comparisons": [
            compared("deletion_auc", "undecided", 30),
            compared("insertion_auc", "undecided", None),
            {**compared("deletion_auc", "better", None), "method": "saliency"},  # another method's: not the run's
        ],
    }
    messages = " | ".join(item["message"] for item in assess(_metrics(GOOD, faithfulness=trust), tmp_path))
    assert (
        "only 3x3 cells" in messages and "nearly the same for every image (mean pairwise correlation 0.95)" in messages
    )
    assert "gradcam is not decided better than a random map on any score" in messages
    assert "paired tests on 8 images" in messages and "About 30 images would likely decide" in messages
    trust.update(cells=[7, 7], map_similarity=0.2)
    trust["comparisons"][1] = compared("insertion_auc", "better", None)  # decided: no warning
    assert assess(_metrics(GOOD, faithfulness=trust), tmp_path) == []


def test_scratch_training_and_dead_channels(tmp_path):
    for image, dead in (("rose_rose_001", 7), ("tulip_tulip_002", 6)):
        folder = tmp_path / "activations" / image
        folder.mkdir(parents=True)
        entries = [
            {"file": "000_conv2d.jpg", "layer": "conv2d", "shape": [9, 9, 10], "dead": 2},
            {"file": "001_mixed0.jpg", "layer": "mixed0", "shape": [6, 6, 10], "dead": dead},
            {"file": "002_mixed9.jpg", "layer": "mixed9", "shape": [3, 3, 10], "dead": 10},  # too small to say
        ]
        (folder / "index.json").write_text(json.dumps(entries))
    metrics = _metrics(
        GOOD, trained_from_scratch=True, training={"epochs_run": 6}, data={"counts": {"train": {"a": 40, "b": 40}}}
    )
    found = assess(metrics, tmp_path)
    assert [item["level"] for item in found] == ["warning", "info"]  # warnings first
    assert "At least 60% of the channels of mixed0 are dead (constant) in each of the 2 images" in found[0]["message"]
    assert "from scratch on 80 images for 6 epochs" in found[1]["message"]


def test_layers_whose_patterns_fall_short_of_real_photos(tmp_path):
    """filters/index.json: a layer with fewer than half its patterns at the 99th percentile is named with its
    share; a layer at half or more, or one scored against no images, is not."""
    layers = [
        {"layer": "conv2d_2", "at_99th": 1.0},
        {"layer": "conv2d_9", "at_99th": 0.5},
        {"layer": "conv2d_39", "at_99th": 0.25},
        {"layer": "mixed5"},  # no test images: no percentiles
    ]
    (tmp_path / "filters").mkdir()
    (tmp_path / "filters" / "index.json").write_text(json.dumps({"layers": layers}))
    found = assess(_metrics(GOOD), tmp_path)
    assert [item["level"] for item in found] == ["info"]
    assert "past the 99th percentile of the test images: conv2d_39 (25%)." in found[0]["message"]


def test_the_report_shows_the_box(tmp_path):
    health = [{"level": "warning", "message": "Test accuracy 0.33 is not clearly above chance"}]
    (tmp_path / "metrics.json").write_text(json.dumps({"classes": ["a", "b"], "health": health}))
    (tmp_path / "config.json").write_text(json.dumps({"config": {}}))
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert "How far to trust this run" in page and "not clearly above chance" in page
    assert page.index("How far to trust") < page.index("Run summary")
    (tmp_path / "metrics.json").write_text(json.dumps({"classes": ["a", "b"], "health": []}))
    assert "no check fired" in write_report(tmp_path).read_text(encoding="utf-8")


def test_the_report_escapes_every_value_from_the_run(tmp_path):
    """Class names, settings, layer names, reasons and messages reach the page as text, never as markup
    (the templates autoescape: no value needs remembering to escape)."""
    hostile = "<script>alert(1)</script>"
    metrics = {
        "classes": [hostile, "b&b"],
        "model": f"model {hostile}",
        "health": [{"level": "warning", "message": f"message {hostile}"}],
        "visualizations": {"gradcam_layer": f"layer{hostile}", "gradcam_layer_reason": f"reason {hostile}"},
        "data": {"counts": {"train": {hostile: 1, "b&b": 2}}, "skipped": [[f"{hostile}.jpg", "unreadable"]]},
    }
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    (tmp_path / "config.json").write_text(json.dumps({"config": {"images": [hostile]}, "versions": {"x": hostile}}))
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert hostile not in page
    # classes line, counts table, model, health, layer, reason, skipped file, a setting, a version: 9 places
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 9
    assert "b&amp;b" in page and "<code>layer&lt;script&gt;" in page  # the page's own markup stays markup


def test_map_similarity():
    from visconvnets.run.map_scores import map_similarity

    base = np.random.default_rng(0).random((1, 7, 7))
    assert map_similarity(np.repeat(base, 4, axis=0)) == pytest.approx(1.0)
    assert abs(map_similarity(np.random.default_rng(1).random((40, 7, 7)))) < 0.1
    assert map_similarity(np.concatenate([base, np.zeros((3, 7, 7))])) is None  # flat maps say nothing


def test_a_removal_that_keeps_the_class_is_a_warning(tmp_path):
    removals = {
        "blur": {"removed": 0.63, "kept": 0.54, "flagged": True},
        "mean": {"removed": 0.16, "kept": -0.05, "flagged": False},
        "black": {"removed": 0.18, "kept": -0.03, "flagged": False},
        "impute": {"removed": 0.3, "kept": 0.13, "flagged": False},
    }
    trust = {"removal": {"used": "blur", "original": 0.98, "chance": 0.2, "removals": removals, "least": "mean"}}
    messages = " | ".join(item["message"] for item in assess(_metrics(GOOD, faithfulness=trust), tmp_path))
    assert "Removing every pixel by blur still leaves 54% of the class (p 0.63" in messages
    assert "Try --removal mean (-5% kept)" in messages
    trust["removal"]["used"] = "black"
    assert assess(_metrics(GOOD, faithfulness=trust), tmp_path) == []
