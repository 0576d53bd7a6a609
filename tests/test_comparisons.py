"""Paired comparisons of map methods with baselines: scipy's numbers, Holm's correction, verdicts that decide
where unpaired intervals cannot, and the per-image scores a run writes."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import stats

from visconvnets.scores.comparisons import (
    ALPHA,
    decidable,
    decide,
    holm,
    images_to_decide,
    paired_comparison,
    smallest_p,
)

from .conftest import red_reader

SIDE = 32


def test_the_paired_bootstrap_and_the_signed_rank_test_are_scipys():
    rng = np.random.default_rng(3)
    reference = rng.uniform(0.2, 0.8, 20)
    values = reference - 0.05 + rng.normal(0, 0.04, 20)  # lower on most images: better for deletion
    found = paired_comparison(values, reference, higher=False, seed=7)
    expected = stats.bootstrap(
        (values, reference),
        lambda first, second, axis: np.mean(first - second, axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=2000,
        method="percentile",
        rng=np.random.default_rng(7),
    ).confidence_interval
    assert found["ci95"] == pytest.approx([expected.low, expected.high])
    assert found["p"] == pytest.approx(stats.wilcoxon(values, reference).pvalue)
    assert found["difference"] == pytest.approx(np.mean(values - reference)) and found["better"] is True
    assert paired_comparison(values, reference, higher=True)["better"] is False  # the same numbers, insertion-wise
    same = paired_comparison(reference, reference, higher=True)
    assert (same["p"], same["ci95"], same["difference"]) == (1.0, [0.0, 0.0], 0.0)  # nothing differs: undecided
    with pytest.raises(ValueError, match="the same images for both, at least one: got 3 and 2"):
        paired_comparison([1, 2, 3], [1, 2], higher=True)


def test_tarone_leaves_out_the_comparisons_their_images_cannot_decide():
    """12 comparisons on 32 images among 132 on 8 (the demo's): a signed-rank test on 8 images cannot go below
    p = 2/256 = 0.0078 > 0.05/12, so the family is the 12, and a p of 0.0008 that Holm over all 144 leaves
    undecided (0.0008 x 144 = 0.12) is decided (x 12 = 0.0096). The smallest p equals scipy's on one-signed data."""
    from scipy import stats

    assert smallest_p(8) == pytest.approx(stats.wilcoxon(np.arange(1.0, 9.0)).pvalue)
    kept = decidable([32] * 12 + [8] * 132)
    assert kept.sum() == 12 and kept[:12].all()
    assert decidable([8] * 5).all()  # alone, 8 images decide at 0.05 / 5 = 0.01 > 0.0078
    assert not decidable([3, 3]).any()  # 2/8 = 0.25: nothing to test
    planted = [{"p": 0.0008, "better": True, "difference": -0.25, "spread": 0.3, "images": 32, "ci95": [-0.3, -0.2]}]
    planted += [{"p": 0.01, "better": True, "difference": -0.1, "spread": 0.2, "images": 32, "ci95": [-0.2, 0.0]}] * 11
    planted += [
        {"p": 0.0078, "better": True, "difference": -0.3, "spread": 0.1, "images": 8, "ci95": [-0.4, -0.2]}
    ] * 132
    decided = decide(planted)
    assert decided[0]["verdict"] == "better" and decided[0]["p_holm"] == pytest.approx(0.0096)
    unclear = decide([{**planted[0], "ci95": [-0.3, 0.01]}, *planted[1:]])[0]  # the test decides, the interval not
    assert unclear["p_holm"] == pytest.approx(0.0096) and unclear["verdict"] == "undecided"
    assert holm([found["p"] for found in planted])[0] > ALPHA  # what Holm over all of them would have said
    assert all(not found["tested"] and found["p_holm"] == 1.0 for found in decided[12:])
    assert all(found["verdict"] == "undecided" for found in decided[12:])


def test_holm_adjusts_planted_p_values():
    """Sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running maximum 0.02, 0.03,
    0.06, 0.06, back in the order given."""
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    planted = [
        {"p": 0.001, "better": True, "difference": -0.2, "spread": 0.1, "images": 16, "ci95": [-0.25, -0.15]},
        {"p": 0.06, "better": False, "difference": 0.1, "spread": 0.3, "images": 16, "ci95": [-0.05, 0.25]},
        {"p": 0.004, "better": False, "difference": 0.3, "spread": 0.2, "images": 16, "ci95": [0.2, 0.4]},
    ]
    decided = decide(planted)
    assert [found["verdict"] for found in decided] == ["better", "undecided", "worse"]  # 0.003, 0.06, 0.008
    assert decided[1]["p_holm"] == pytest.approx(0.06) and decided[0]["p_holm"] == pytest.approx(0.003)
    # about ((1.96 + 0.84) * 0.3 / 0.1)^2 / 0.955 = 74 images, at ALPHA / 3 somewhat more
    assert 74 < decided[1]["images_to_decide"] < 110 and decided[0]["images_to_decide"] is None
    assert images_to_decide(0.1, 0.3) == pytest.approx(74, abs=1) and images_to_decide(0.0, 0.3) is None
    assert ALPHA == 0.05


def test_a_map_of_the_used_region_is_decided_better_where_unpaired_intervals_overlap():
    """16 images of different redness (so every map's deletion AUC varies mostly by image); a map tilted towards
    the quadrant the model reads against a random map: the intervals of the two means overlap, the paired test
    decides."""
    from visconvnets.run.map_scores import compare_with_baselines
    from visconvnets.scores.comparisons import bootstrap_interval
    from visconvnets.scores.faithfulness import deletion_insertion

    quadrant_model = red_reader(SIDE)  # class 0 reads the top-left quadrant's red
    rng = np.random.default_rng(0)
    count = 16
    redness = rng.uniform(0.2, 1.0, count)
    images = rng.uniform(0, 30, (count, SIDE, SIDE, 3)).astype(np.float32)
    images[..., 0] = 255 * redness[:, None, None]
    quadrant = np.zeros((count, 4, 4), np.float32)
    quadrant[:, :2, :2] = 1.0
    maps = {"tilted": 0.25 * quadrant + rng.random(quadrant.shape), "random": rng.random(quadrant.shape)}
    curves = deletion_insertion(quadrant_model, images, maps, class_index=0, steps=8, removal="black")
    per_image = {name: {"deletion_auc": curves[name]["deletion_auc"]} for name in maps}
    unpaired = [bootstrap_interval(per_image[name]["deletion_auc"]) for name in ("tilted", "random")]
    assert unpaired[0]["ci95"][1] >= unpaired[1]["ci95"][0]  # the old rule's verdict: the intervals overlap
    (found,) = compare_with_baselines(per_image, ["random"])
    assert (found["method"], found["baseline"], found["score"], found["images"]) == (
        "tilted",
        "random",
        "deletion_auc",
        16,
    )
    assert found["verdict"] == "better" and found["ci95"][1] < 0 and found["p_holm"] < ALPHA


def test_the_per_image_csv_has_a_row_per_image_and_method(tmp_path):
    from visconvnets.run.map_scores import write_scores_csv

    rng = np.random.default_rng(1)
    names = ("gradcam", "saliency", "random", "centre")
    per_image = {
        name: {key: rng.random(5) for key in ("deletion_auc", "insertion_auc", "road_combined")} for name in names
    }
    paths = [tmp_path / "daisy" / f"{index}.jpg" for index in range(5)]
    written = write_scores_csv(tmp_path / "map_scores.csv", paths, per_image, ["random", "centre"])
    with written.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 5 * 4 and list(rows[0]) == [
        "image",
        "method",
        "baseline",
        "deletion_auc",
        "insertion_auc",
        "road_combined",
    ]
    assert {(row["image"], row["method"]) for row in rows} == {(f"daisy/{i}.jpg", n) for i in range(5) for n in names}
    row = next(row for row in rows if row["image"] == "daisy/3.jpg" and row["method"] == "saliency")
    assert float(row["insertion_auc"]) == pytest.approx(per_image["saliency"]["insertion_auc"][3], rel=1e-6)
    assert {row["baseline"] for row in rows if row["method"] == "centre"} == {"True"}
