"""Can the run's maps be trusted? Every CAM method and baseline scored on the same test images
(deletion/insertion, ROAD, pointing game when boxes are known), the randomisation check of the run's
method, the two figures, and the findings in plain words -> ``metrics.json``."""

from __future__ import annotations

import time

import numpy as np

from ..data.images import load_images
from ..data.selection import ImageSet
from ..explain import cams
from ..models.geometry import receptive_field
from ..render import pictures as rendering
from ..scores.faithfulness import HIGHER_IS_BETTER, bootstrap_interval, clearly_better, deletion_insertion, road_scores
from ..scores.pointing import pointing_hits
from ..scores.sanity import class_sensitivity, randomization_sanity
from ..settings import outputs
from ..settings.config import RunConfig

SANITY_IMAGES = 4  # images re-explained at every randomisation step (one cam pass per step)


def _score_methods(model, images, maps: dict, one_pass, geometry, config: RunConfig) -> tuple[dict, dict]:
    """({method: {score: {mean, ci95}}}, {method: deletion/insertion curves}) of every method's maps,
    all methods' perturbed images in one stream of batches per score."""
    steps, seed = config.faithfulness_steps, config.seed
    curves = deletion_insertion(model, images, maps, one_pass.indices, steps, geometry=geometry, seed=seed)
    road = road_scores(model, images, maps, one_pass.indices, geometry=geometry, seed=seed)
    scores = {
        name: {
            "deletion_auc": bootstrap_interval(curves[name]["deletion_auc"], seed=seed),
            "insertion_auc": bootstrap_interval(curves[name]["insertion_auc"], seed=seed),
            "road_combined": bootstrap_interval(road[name]["road_combined"], seed=seed),
        }
        for name in maps
    }
    return scores, curves


def score_maps(model, chosen: ImageSet, config: RunConfig, image_size: int, layer: str, out_dir) -> dict:
    """{"faithfulness": ..., "sanity": ...} for metrics.json, from the ``chosen`` test images (their boxes too,
    for the pointing game); writes faithfulness.png and sanity.png."""
    started = time.perf_counter()
    layout = outputs.RunLayout(out_dir)
    paths, labels, boxes, sizes = chosen.paths, chosen.labels, chosen.boxes, chosen.sizes
    images = load_images(paths, image_size)
    geometry = receptive_field(model, layer)
    predicted = cams.cam_pass(model, images, None, layer, config.seed)  # faithfulness: the model's own answer
    # the pointing game explains the true class, as in the original: a second pass for the misclassified only
    wrong = np.flatnonzero(predicted.indices != np.asarray(labels)) if boxes is not None else np.array([], int)
    truth = cams.cam_pass(model, images[wrong], np.asarray(labels)[wrong], layer, config.seed) if wrong.size else None
    maps = {name: method.compute(predicted) for name, method in cams.CAM_METHODS.items()}
    similarity = map_similarity(maps[config.cam_method])  # the model's own answers, before the pointing game
    methods, found = _score_methods(model, images, maps, predicted, geometry, config)
    for name, method in cams.CAM_METHODS.items():
        if boxes is not None:
            if truth is not None:
                maps[name][wrong] = method.compute(truth)
            hits, _ = pointing_hits(maps[name], boxes, geometry, image_size, sizes)
            methods[name]["pointing_game"] = bootstrap_interval(hits.astype(float), seed=config.seed)
        methods[name] = {"baseline": method.baseline, **methods[name]}
    curves = {
        name: (found[name]["deletion"], found[name]["insertion"], row["baseline"]) for name, row in methods.items()
    }
    title = f"{len(paths)} test images, layer {layer}"
    rendering.save_faithfulness_curves(
        found[config.cam_method]["fractions"], curves, layout / outputs.FAITHFULNESS_CURVES, title
    )
    faithfulness = {"layer": layer, "count": len(paths), "steps": config.faithfulness_steps, "methods": methods}
    faithfulness["cells"] = list(predicted.activations.shape[1:3])
    faithfulness["map_similarity"] = similarity
    faithfulness["findings"] = findings(methods, config.cam_method)
    sanity = check_randomisation(model, images[:SANITY_IMAGES], config, layer, layout)
    faithfulness["seconds"] = round(time.perf_counter() - started, 1)
    print(f"map scores: {len(methods)} methods and baselines on {len(paths)} test images, {faithfulness['seconds']} s")
    return {"faithfulness": faithfulness, "sanity": sanity}


def check_randomisation(model, images: np.ndarray, config: RunConfig, layer: str, layout: outputs.RunLayout) -> dict:
    """The cascading randomisation of the run's method; sanity.png; the summary for metrics.json."""
    found = randomization_sanity(model, images, config.cam_method, layer, config.seed, config.sanity_steps)
    rendering.save_sanity_figure(
        found["steps"],
        found["spearman"],
        found["ssim"],
        found["maps"][:, 0],
        layout / outputs.SANITY_FIGURE,
        f"{config.cam_method} at {layer}, {len(images)} test images",
    )
    final = found["spearman"][-1]
    verdict = (
        "they depend on the weights, as an explanation of the model must"
        if final < 0.5
        else "they stay similar without the weights that made them: they show the image more than the model"
    )
    sentences = [
        f"After re-initialising {len(found['steps'])} steps from the top ({found['steps'][0]} ... "
        f"{found['steps'][-1]}; one random draw of weights), {config.cam_method}'s maps keep a rank correlation of "
        f"{final:.2f} with the trained model's: {verdict}."
    ]
    by_class = float(class_sensitivity(model, images, config.cam_method, layer).mean())
    sentences.append(
        f"Maps for each image's predicted class and for its runner-up class correlate {by_class:.2f}: "
        + ("they differ by class." if by_class < 0.5 else "they hardly depend on the class asked about.")
    )
    keys = ("method", "layer", "steps", "spearman", "ssim")
    summary = {key: found[key] for key in keys}
    return {**summary, "images": len(images), "class_correlation": by_class, "findings": sentences}


def _compare(name: str, methods: dict, key: str, baseline: str, what: str) -> str:
    score, reference = methods[name][key], methods[baseline][key]
    better = clearly_better(score, reference, HIGHER_IS_BETTER[key])
    verdict = "clearly better than" if better else "not clearly better than"
    low, high = score["ci95"]
    return (
        f"{name} {what}: {score['mean']:.2f} [{low:.2f}, {high:.2f}], {verdict} the {baseline} baseline "
        f"({reference['mean']:.2f}; intervals {'apart' if better else 'overlap'})."
    )


def findings(methods: dict, method: str) -> list[str]:
    """One sentence per comparison that decides whether the run's method deserves belief."""
    sentences = [
        _compare(method, methods, "deletion_auc", "random", "deletion AUC (lower: the class goes faster)"),
        _compare(method, methods, "insertion_auc", "random", "insertion AUC (higher: the class comes faster)"),
        _compare(method, methods, "road_combined", "random", "ROAD combined"),
    ]
    if "pointing_game" in methods[method]:
        sentences.append(_compare(method, methods, "pointing_game", "centre", "pointing game"))
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
