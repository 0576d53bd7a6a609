"""Is a map method better than a baseline? Paired comparisons on the same images, a verdict per comparison.

Two methods scored on the same images are compared image by image: each image's difference (method minus
baseline) is what varies, not each method's own spread, so a method better on every image is decided better
even when the two methods' own intervals overlap. Per comparison:

* the mean difference with its paired bootstrap 95% interval (``scipy.stats.bootstrap(..., paired=True)``);
* the Wilcoxon signed-rank test's two-sided p-value (``scipy.stats.wilcoxon``);
* Holm's correction over the comparisons of a run that their images could decide (``holm`` over ``decidable``:
  Tarone's rule), so that scoring many methods against many baselines does not decide by chance, and
  comparisons on too few images to ever reach significance do not make the others' threshold stricter;
* a verdict: ``better`` or ``worse`` (decided at ``ALPHA`` after the correction, the interval on the same side of
  0), else ``undecided``, with the images a paired test would likely need to decide the effect seen
  (``images_to_decide``).

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


def smallest_p(images: int) -> float:
    """The smallest two-sided p-value the signed-rank test can give on ``images`` paired images: every
    difference of one sign, 2 / 2^n (its exact distribution; ties and zeros only raise it)."""
    return 2.0 * 0.5 ** int(images) if images > 0 else 1.0


def decidable(images: list[int], alpha: float = ALPHA) -> np.ndarray:
    """(m,) bool: the comparisons (each on ``images[i]`` images) that Tarone's rule (Tarone, 1990) keeps in the
    family: for the smallest K with at most K comparisons whose ``smallest_p`` is <= alpha / K, those. The others
    could not be decided at any p-value their images can give, so leaving them out costs no error control (the
    family is chosen from the numbers of images alone, before any result is seen) and the rest get a milder
    threshold: 12 comparisons on 32 images among 132 on 8 are corrected as 12, not 144."""
    least = np.asarray([smallest_p(count) for count in images], np.float64)
    for size in range(1, len(least) + 1):
        kept = least <= alpha / size
        if kept.sum() <= size:
            return kept
    return np.zeros(len(least), bool)


def decide(comparisons: list[dict]) -> list[dict]:
    """Every comparison of a run (``paired_comparison``'s) with ``p_holm`` (Holm over the ``decidable`` ones; 1.0
    for the others, which their images cannot decide), ``tested`` (whether it was in Holm's family), ``verdict``:
    better / worse when the corrected signed-rank test decides and the mean difference's 95% interval excludes 0
    (the two can disagree when a few images carry the mean: then neither is claimed), else undecided; and for an
    undecided one ``images_to_decide`` (from its difference and spread, at the family's size)."""
    kept = decidable([comparison["images"] for comparison in comparisons])
    adjusted = np.ones(len(comparisons))
    if kept.any():
        adjusted[kept] = holm([comparison["p"] for comparison, keep in zip(comparisons, kept) if keep])
    family = max(1, int(kept.sum()))
    decided = []
    for comparison, p_holm, keep in zip(comparisons, adjusted, kept):
        low, high = comparison["ci95"]
        clear = low > 0 or high < 0  # the mean difference's interval on one side of 0, as the test says
        verdict = ("better" if comparison["better"] else "worse") if p_holm < ALPHA and clear else "undecided"
        more = None
        if verdict == "undecided":
            more = images_to_decide(comparison["difference"], comparison["spread"], family)
        decided.append(
            {**comparison, "p_holm": float(p_holm), "tested": bool(keep), "verdict": verdict, "images_to_decide": more}
        )
    return decided
