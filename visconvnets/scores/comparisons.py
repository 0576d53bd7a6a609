"""Is a map method better than a baseline? Paired comparisons on the same images, a verdict per comparison.

Two methods scored on the same images are compared image by image: each image's difference (method minus
baseline) is what varies, not each method's own spread, so a method better on every image is decided better
even when the two methods' own intervals overlap. Per comparison:

* the mean difference with its paired bootstrap 95% interval (``scipy.stats.bootstrap(..., paired=True)``);
* the Wilcoxon signed-rank test's two-sided p-value (``scipy.stats.wilcoxon``);
* Holm's correction over every comparison of a run (``holm``), so that scoring many methods against many
  baselines does not decide by chance;
* a verdict: ``better`` or ``worse`` (decided at ``ALPHA`` after the correction), else ``undecided``, with the
  images a paired test would likely need to decide the effect seen (``images_to_decide``).

Also ``bootstrap_interval``: one method's mean score over the images with its 95% bootstrap interval (the report's
table). Arrays and numbers only: the run (``run.map_scores``) says what they mean.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

ALPHA = 0.05  # the family-wise error rate of a run's comparisons (Holm)
POWER = 0.8  # images_to_decide: the chance of deciding an effect of the size seen
WILCOXON_EFFICIENCY = 3 / math.pi  # the signed-rank test's efficiency against the t-test for normal differences


def bootstrap_interval(values, resamples: int = 2000, seed: int = 0) -> dict:
    """{"mean": m, "ci95": [low, high]}: the percentile bootstrap's 95% interval of the mean
    (``scipy.stats.bootstrap``, ``resamples`` resamples, seeded); one value gives the interval [value, value].

    Raises:
        ValueError: no values.
    """
    values = np.asarray(values, np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("bootstrap_interval needs at least one value, got none")
    if values.size == 1 or np.all(values == values[0]):  # nothing to resample: the interval is the value
        return {"mean": float(values[0]), "ci95": [float(values[0])] * 2}
    found = stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=resamples,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = found.confidence_interval
    return {"mean": float(values.mean()), "ci95": [float(interval.low), float(interval.high)]}


def paired_comparison(values, reference, higher: bool, resamples: int = 2000, seed: int = 0) -> dict:
    """One method's per-image scores against a baseline's on the same images.

    Args:
        values, reference: (n,) per-image scores (e.g. deletion AUCs), image i of both on the same image.
        higher: Whether a larger score is the better one (insertion, ROAD, pointing game; not deletion).
        resamples: Bootstrap resamples; seed: seeds them.

    Returns:
        {"images": n, "difference": mean of values - reference, "spread": the differences' standard deviation (0
        for one image), "ci95": [low, high] the mean's paired bootstrap interval, "p": the Wilcoxon signed-rank
        test's two-sided p-value (1.0 when every difference is 0), "better": whether the mean difference is on the
        better side}.

    Raises:
        ValueError: the two have different lengths, or no images.
    """
    values, reference = np.asarray(values, np.float64).ravel(), np.asarray(reference, np.float64).ravel()
    if values.shape != reference.shape or values.size == 0:
        raise ValueError(
            f"a paired comparison needs the same images for both, at least one: got {values.size} and {reference.size}"
        )
    differences = values - reference
    mean = float(differences.mean())
    interval = [mean, mean]  # one image, or the same difference on every image: nothing to resample
    if values.size > 1 and np.any(differences != differences[0]):
        found = stats.bootstrap(
            (values, reference),
            lambda first, second, axis: np.mean(first - second, axis=axis),
            paired=True,
            vectorized=True,
            n_resamples=resamples,
            confidence_level=0.95,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        interval = [float(found.confidence_interval.low), float(found.confidence_interval.high)]
    p_value = float(stats.wilcoxon(values, reference).pvalue) if np.any(differences != 0) else 1.0
    return {
        "images": int(values.size),
        "difference": mean,
        "spread": float(differences.std(ddof=1)) if values.size > 1 else 0.0,
        "ci95": interval,
        "p": p_value,
        "better": mean > 0 if higher else mean < 0,
    }


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm, 1979), in the order given: the k-th smallest of m is multiplied
    by m - k + 1, each kept at least its predecessor's and at most 1. An adjusted p-value below ``ALPHA`` is
    decided with a family-wise error rate of ``ALPHA``. (Five lines of NumPy; statsmodels, which has it, is not
    otherwise needed.)"""
    p_values = np.asarray(p_values, np.float64).ravel()
    order = np.argsort(p_values, kind="stable")
    scaled = (len(p_values) - np.arange(len(p_values))) * p_values[order]
    adjusted = np.empty_like(p_values)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def images_to_decide(difference: float, spread: float, comparisons: int = 1) -> int | None:
    """How many images a paired test would likely need (``POWER``) to decide a mean per-image difference of
    ``difference`` with a standard deviation ``spread`` of the differences, at ``ALPHA`` / ``comparisons`` (Holm's
    strictest step): ((z(1 - a/2) + z(power)) / (difference / spread))^2, for the signed-rank test divided by its
    efficiency. None when no difference was seen (nothing to decide) or the differences do not vary."""
    if difference == 0 or not spread > 0:
        return None
    z = stats.norm.ppf(1 - ALPHA / comparisons / 2) + stats.norm.ppf(POWER)
    return math.ceil((z * spread / abs(difference)) ** 2 / WILCOXON_EFFICIENCY)


def decide(comparisons: list[dict]) -> list[dict]:
    """Every comparison of a run (``paired_comparison``'s) with ``p_holm`` (Holm over all of them), ``verdict``:
    better / worse / undecided, and for an undecided one ``images_to_decide`` (from its difference and spread)."""
    adjusted = holm([comparison["p"] for comparison in comparisons]) if comparisons else []
    decided = []
    for comparison, p_holm in zip(comparisons, adjusted):
        verdict = ("better" if comparison["better"] else "worse") if p_holm < ALPHA else "undecided"
        more = None
        if verdict == "undecided":
            more = images_to_decide(comparison["difference"], comparison["spread"], len(comparisons))
        decided.append({**comparison, "p_holm": float(p_holm), "verdict": verdict, "images_to_decide": more})
    return decided
