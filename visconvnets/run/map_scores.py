"""Can the run's maps be trusted? Every registered method (CAMs, pixel attributions) and baseline scored on
the same test images (deletion/insertion, ROAD, pointing game when boxes are known), the randomisation check
of ``--sanity-methods`` and the run's method, the two figures, and the findings in plain words ->
``metrics.json``."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..data.images import load_images
from ..data.selection import ImageSet
from ..explain import cams
from ..explain.methods import ordered_methods
from ..models.geometry import receptive_field
from ..render import pictures
from ..scores.comparisons import bootstrap_interval, decide, paired_comparison
from ..scores.faithfulness import HIGHER_IS_BETTER, deletion_insertion, removal_check, road_scores
from ..scores.pointing import pointing_hits
from ..scores.sanity import class_sensitivity, randomization_sanities
from ..settings import outputs
from ..settings.config import RunConfig
from .timing import Stopwatch, stage

SANITY_IMAGES = 4  # images re-explained at every randomisation step (one cam pass per step)
SHOWS_THE_MODEL = 0.5  # a final rank correlation below this: the maps depend on the weights


def _score_methods(model, images, maps: dict, one_pass, geometry, config: RunConfig) -> tuple[dict, dict]:
    """({method: {score: (n,) per-image values}}, {method: deletion/insertion curves}) of every method's maps,
    all methods' perturbed images in one stream of batches per score."""
    steps, seed = config.faithfulness_steps, config.seed
    curves = deletion_insertion(model, images, maps, one_pass.indices, steps, config.removal, geometry, seed)
    road = road_scores(model, images, maps, one_pass.indices, geometry=geometry, seed=seed)
    per_image = {
        name: {
            "deletion_auc": curves[name]["deletion_auc"],
            "insertion_auc": curves[name]["insertion_auc"],
            "road_combined": road[name]["road_combined"],
        }
        for name in maps
    }
    return per_image, curves


def compare_with_baselines(per_image: dict, baselines: list[str], seed: int = 0) -> list[dict]:
    """Every method against every baseline on every score, image by image (``comparisons.paired_comparison``),
    decided together (Holm over those their images can decide: ``comparisons.decide``): a list of {method,
    baseline, score, difference, spread, ci95, p, p_holm, tested, verdict, images_to_decide}."""
    found = []
    for name, scores in per_image.items():
        if name in baselines:
            continue
        for key, values in scores.items():
            for baseline in baselines:
                reference = per_image[baseline][key][: len(values)]  # the same images: a method on fewer, the first
                compared = paired_comparison(values, reference, HIGHER_IS_BETTER[key], seed=seed)
                found.append({"method": name, "baseline": baseline, "score": key, **compared})
    return decide(found)


def _image_name(path) -> str:
    """An image as the scores name it: its class folder and file name (``daisy/1.jpg``)."""
    return "/".join(Path(path).parts[-2:])


def write_scores_csv(path: Path, paths: list, per_image: dict, baselines: list[str]) -> Path:
    """OUT/map_scores.csv: one row per image and method (baselines too) it was scored on (a method scored on
    fewer images: the first of ``paths``), every score of it."""
    keys = [key for key in HIGHER_IS_BETTER if all(key in scores for scores in per_image.values())]
    rows = [
        [_image_name(paths[index]), name, name in baselines, *(float(per_image[name][key][index]) for key in keys)]
        for name in per_image
        for index in range(len(per_image[name][keys[0]]))
    ]
    return outputs.write_csv(path, ["image", "method", "baseline", *keys], rows)


def score_maps(
    model,
    chosen: ImageSet,
    config: RunConfig,
    image_size: int,
    layer: str,
    out_dir: outputs.RunLayout | Path,
    clock: Stopwatch | None = None,
) -> dict:
    """{"faithfulness": ..., "sanity": ...} for metrics.json, from the ``chosen`` test images (their boxes too,
    for the pointing game); writes faithfulness.png, sanity.png and map_scores.csv. ``clock`` times the removal
    check, the map scores and the randomisation check as three stages."""
    layout = outputs.as_layout(out_dir)  # the run's own layout, or a folder given by hand
    images = load_images(chosen.paths, image_size)
    with stage(clock, "removal check"):  # what deletion and insertion can measure on this model
        removal = removal_check(model, images)
    with stage(clock, "map scores"):
        started = time.perf_counter()
        faithfulness, maps = _score_every_method(model, chosen, images, config, layer, layout)
        faithfulness["removal"] = {"used": config.removal, **removal}
        faithfulness["findings"] = removal_findings(removal, config.removal) + faithfulness["findings"]
        faithfulness["seconds"] = round(time.perf_counter() - started, 1)
    print(
        f"map scores: {len(faithfulness['methods'])} methods and baselines on {len(chosen.paths)} test images, "
        f"{faithfulness['seconds']} s"
    )
    with stage(clock, "randomisation check"):
        sanity = check_randomisation(model, images[:SANITY_IMAGES], config, layer, layout, reusable(maps))
    return {"faithfulness": faithfulness, "sanity": sanity}


def reusable(maps: dict) -> dict:
    """{name: the first ``SANITY_IMAGES`` maps} of the methods whose maps do not depend on how many images
    were explained together (no random draw: a seeded method's noise is drawn for the whole batch), for the
    randomisation check's trained-model maps."""
    drawn = {method.name for method in ordered_methods() if method.baseline or "seed" in method.options}
    return {name: found[:SANITY_IMAGES] for name, found in maps.items() if name not in drawn}


def _maps_and_scores(model, images, chosen: ImageSet, methods: list, config: RunConfig, layer: str) -> tuple:
    """``methods``' maps of ``images`` (the first of ``chosen``'s) and their scores: ({name: (n, h, w) maps},
    {name: seconds}, {name: {score: (n,)}}, {name: curves}, the layer's cells (h, w)). The pointing game (with
    boxes) explains the true class, as in the original: a second pass for the misclassified only."""
    count, options = len(images), config.pixel_options()
    geometry = receptive_field(model, layer)
    predicted = cams.cam_pass(model, images, None, layer, config.seed, options)  # the model's own answer
    maps, seconds = {}, {}
    for method in methods:
        begun = time.perf_counter()
        maps[method.name] = method.compute(predicted)
        seconds[method.name] = time.perf_counter() - begun
    per_image, curves = _score_methods(model, images, maps, predicted, geometry, config)
    if chosen.boxes is not None:
        labels = np.asarray(chosen.labels)[:count]
        wrong = np.flatnonzero(predicted.indices != labels)
        truth = cams.cam_pass(model, images[wrong], labels[wrong], layer, config.seed, options) if wrong.size else None
        for method in methods:
            begun = time.perf_counter()
            pointed = maps[method.name].copy()  # the scores above keep the predicted class's maps
            if truth is not None:
                pointed[wrong] = method.compute(truth)
            seconds[method.name] += time.perf_counter() - begun
            hits, _ = pointing_hits(pointed, chosen.boxes[:count], geometry, images.shape[1], chosen.sizes[:count])
            per_image[method.name]["pointing_game"] = hits.astype(float)
    return maps, seconds, per_image, curves, list(predicted.activations.shape[1:3])


def _score_every_method(model, chosen: ImageSet, images, config: RunConfig, layer: str, layout) -> tuple[dict, dict]:
    """Every registered method's maps scored and compared with the baselines: (the faithfulness part of
    metrics.json, less the removal check; {method: (n, h, w) maps of the model's predicted classes}); writes
    faithfulness.png and map_scores.csv. The run's method and the
    baselines are scored on every chosen image (``--faithfulness-images``), the other methods on the first
    ``--method-images`` of them (what their maps cost: BENCHMARKS.md)."""
    every = [method for method in ordered_methods() if method.baseline or method.name == config.cam_method]
    others = [method for method in ordered_methods() if method not in every]
    fewer = min(len(images), config.method_images)
    maps, seconds, per_image, found, cells = _maps_and_scores(model, images, chosen, every, config, layer)
    if others and fewer:
        more = _maps_and_scores(model, images[:fewer], chosen, others, config, layer)[:4]
        for gathered, added in zip((maps, seconds, per_image, found), more):
            gathered.update(added)
    baselines = [method.name for method in ordered_methods() if method.baseline]
    comparisons = compare_with_baselines(per_image, baselines, config.seed)
    methods = {}
    for method in ordered_methods():
        name = method.name
        if name not in per_image:
            continue
        kind = {"baseline": method.baseline, "pixels": method.pixels, "seconds": round(seconds[name], 2)}
        summaries = {key: bootstrap_interval(values, seed=config.seed) for key, values in per_image[name].items()}
        listed = {key: [round(float(value), 6) for value in values] for key, values in per_image[name].items()}
        methods[name] = {**kind, "images": len(maps[name]), **summaries, "per_image": listed}
    write_scores_csv(layout / outputs.MAP_SCORES, chosen.paths, per_image, baselines)
    curves = {
        name: (found[name]["deletion"], found[name]["insertion"], row["baseline"]) for name, row in methods.items()
    }
    title = (
        f"{len(images)} test images ({config.cam_method} and the baselines; the other methods the first {fewer}); "
        f"the CAMs at {layer}, the pixel methods at the input's pixels"
    )
    pictures.save_faithfulness_curves(
        found[config.cam_method]["fractions"], curves, layout / outputs.FAITHFULNESS_CURVES, title
    )
    found = {
        "layer": layer,
        "count": len(images),
        "method_images": fewer,
        "steps": config.faithfulness_steps,
        "methods": methods,
        "images": [_image_name(image) for image in chosen.paths],
        "cells": cells,
        "map_similarity": map_similarity(maps[config.cam_method]),
        "comparisons": comparisons,
        "findings": findings(methods, comparisons, config.cam_method),
    }
    return found, maps


def removal_findings(removal: dict, used: str) -> list[str]:
    """What the removal check measured, in words: whether the run's removal leaves most of the class (then
    deletion and insertion cannot measure faithfulness with it) and which removal left the least."""
    kept, least = {name: found["kept"] for name, found in removal["removals"].items()}, removal["least"]
    numbers = (
        f"every pixel removed by {used} leaves p(class) {removal['removals'][used]['removed']:.2f} (the images "
        f"{removal['original']:.2f}, chance {removal['chance']:.2f}: {kept[used]:.0%} of the class above chance kept)"
    )
    others = ", ".join(f"{name} {value:.0%}" for name, value in kept.items() if name != used)
    if removal["removals"][used]["flagged"]:
        return [
            f"Removal check: {numbers}, so deletion and insertion cannot measure faithfulness with this removal on "
            f"this model. Kept by the others: {others}; {least} removes the most (--removal {least})."
        ]
    return [f"Removal check: {numbers}. Kept by the others: {others}."]


def sanity_methods(config: RunConfig) -> list[str]:
    """The randomisation check's methods: ``--sanity-methods``, then the run's method when not among them."""
    listed = list(dict.fromkeys(config.sanity_methods))
    return listed if config.cam_method in listed else [*listed, config.cam_method]


def check_randomisation(
    model, images: np.ndarray, config: RunConfig, layer: str, layout: outputs.RunLayout, trained_maps=None
) -> dict:
    """The cascading randomisation of every ``sanity_methods`` method; sanity.png; the summary for metrics.json.
    ``trained_maps``: {method: (n, h, w)} the trained model's maps of ``images`` already made (``reusable``)."""
    names, options = sanity_methods(config), config.pixel_options()
    found = randomization_sanities(
        model, images, names, layer, config.seed, config.sanity_steps, options, trained_maps=trained_maps
    )
    steps, results = found["steps"], found["methods"]
    pictures.save_sanity_figure(
        steps,
        {name: result["spearman"] for name, result in results.items()},
        {name: result["maps"][:, 0] for name, result in results.items()},
        layout / outputs.SANITY_FIGURE,
        f"{len(images)} test images; the CAMs at {layer}",
    )
    sentences = randomisation_findings(steps, {name: result["spearman"][-1] for name, result in results.items()})
    by_class = float(class_sensitivity(model, images, config.cam_method, layer, options).mean())
    sentences.append(
        f"{config.cam_method}'s maps for each image's predicted class and for its runner-up class correlate "
        f"{by_class:.2f}: "
        + ("they differ by class." if by_class < 0.5 else "they hardly depend on the class asked about.")
    )
    methods = {
        name: {
            "spearman": result["spearman"],
            "ssim": result["ssim"],
            "shows_the_model": result["spearman"][-1] < SHOWS_THE_MODEL,
        }
        for name, result in results.items()
    }
    return {
        "layer": layer,
        "steps": steps,
        "methods": methods,
        "images": len(images),
        "class_method": config.cam_method,
        "class_correlation": by_class,
        "findings": sentences,
    }


def randomisation_findings(steps: list[str], final: dict[str, float]) -> list[str]:
    """In plain words, which methods' maps depend on the learned weights and which do not, from each method's
    rank correlation with its trained-model maps after the last step (``final``: {method: value})."""
    depend = [f"{name} ({value:.2f})" for name, value in final.items() if value < SHOWS_THE_MODEL]
    blind = [f"{name} ({value:.2f})" for name, value in final.items() if value >= SHOWS_THE_MODEL]
    sentences = [
        f"Randomisation check: the weights re-initialised in {len(steps)} steps from the top ({steps[0]} ... "
        f"{steps[-1]}; one random draw), each method's maps compared with the trained model's by rank correlation."
    ]
    if depend:
        sentences.append(
            f"Maps that depend on the learned weights, as an explanation of the model must: {', '.join(depend)}."
        )
    if blind:
        sentences.append(
            f"Maps that stay similar without the weights that made them, so they show the image more than the model: "
            f"{', '.join(blind)}."
        )
    return sentences


SCORE_WORDS = {
    "deletion_auc": "deletion AUC (lower: the class goes faster)",
    "insertion_auc": "insertion AUC (higher: the class comes faster)",
    "road_combined": "ROAD combined (higher: better)",
    "pointing_game": "pointing game (higher: better)",
}


def _against(comparison: dict) -> str:
    """One comparison in words: its verdict, the mean per-image difference with its interval, the p-value."""
    low, high = comparison["ci95"]
    if comparison["tested"]:
        test = f"Holm p {comparison['p_holm']:.2g}"
    else:  # left out of Holm's family: its images cannot give a p-value small enough (Tarone)
        test = f"p {comparison['p']:.2g}, too few images to be decided among this run's comparisons"
    numbers = f"{comparison['difference']:+.2f} per image [{low:+.2f}, {high:+.2f}], {test}"
    if comparison["verdict"] != "undecided":
        return f"{comparison['verdict']} than {comparison['baseline']} ({numbers})"
    more = comparison["images_to_decide"]
    likely = "; no difference seen"
    if more:
        likely = f"; about {more} would likely decide it" if more <= 1000 else "; more than 1,000 would be needed"
    return f"not decided against {comparison['baseline']} with these {comparison['images']} images ({numbers}{likely})"


def findings(methods: dict, comparisons: list[dict], method: str) -> list[str]:
    """The run's method against every baseline, score by score, in words (each decided by a paired test, Holm
    over every comparison of the run), and how many of the run's comparisons were decided."""
    sentences = []
    for key, words in SCORE_WORDS.items():
        mine = [found for found in comparisons if found["method"] == method and found["score"] == key]
        if mine:
            sentences.append(f"{method}, {words}: " + "; ".join(_against(comparison) for comparison in mine) + ".")
    decided = sum(comparison["verdict"] != "undecided" for comparison in comparisons)
    tested = sum(comparison["tested"] for comparison in comparisons)
    sentences.append(
        f"Decided: {decided} of the run's {len(comparisons)} comparisons of a method with a baseline (paired "
        f"signed-rank tests on the same images, Holm-corrected together over the {tested} whose images could decide "
        "them (Tarone's rule: a test on n images cannot reach a p-value below 2 / 2^n), 5% family-wise; differences: "
        "method minus baseline, with 95% paired bootstrap intervals). Every image's scores: map_scores.csv."
    )
    explanations = {name: row for name, row in methods.items() if not row["baseline"]}
    best = max(explanations, key=lambda name: explanations[name]["road_combined"]["mean"])
    sentences.append(f"Highest ROAD score among the methods: {best} ({methods[best]['road_combined']['mean']:.2f}).")
    return sentences


def map_similarity(maps: np.ndarray) -> float | None:
    """Mean Pearson correlation over every pair of (n, h, w) maps (constant maps left out); None below two."""
    flat = maps.reshape(len(maps), -1).astype(np.float64)
    flat = flat[flat.std(axis=1) > 0]
    if len(flat) < 2:
        return None
    correlations = np.corrcoef(flat)
    upper = np.triu_indices(len(flat), k=1)
    return float(correlations[upper].mean())
