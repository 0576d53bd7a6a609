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
from ..scores.faithfulness import HIGHER_IS_BETTER, bootstrap_interval, clearly_better, deletion_insertion, road_scores
from ..scores.pointing import pointing_hits
from ..scores.sanity import class_sensitivity, randomization_sanities
from ..settings import outputs
from ..settings.config import RunConfig

SANITY_IMAGES = 4  # images re-explained at every randomisation step (one cam pass per step)
SHOWS_THE_MODEL = 0.5  # a final rank correlation below this: the maps depend on the weights


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


def score_maps(
    model, chosen: ImageSet, config: RunConfig, image_size: int, layer: str, out_dir: outputs.RunLayout | Path
) -> dict:
    """{"faithfulness": ..., "sanity": ...} for metrics.json, from the ``chosen`` test images (their boxes too,
    for the pointing game); writes faithfulness.png and sanity.png."""
    started = time.perf_counter()
    layout = outputs.as_layout(out_dir)  # the run's own layout, or a folder given by hand
    paths, labels, boxes, sizes = chosen.paths, chosen.labels, chosen.boxes, chosen.sizes
    images = load_images(paths, image_size)
    geometry, options = receptive_field(model, layer), config.pixel_options()
    predicted = cams.cam_pass(model, images, None, layer, config.seed, options)  # the model's own answer
    # the pointing game explains the true class, as in the original: a second pass for the misclassified only
    wrong = np.flatnonzero(predicted.indices != np.asarray(labels)) if boxes is not None else np.array([], int)
    truth = None
    if wrong.size:
        truth = cams.cam_pass(model, images[wrong], np.asarray(labels)[wrong], layer, config.seed, options)
    maps, seconds = {}, {}
    for method in ordered_methods():
        begun = time.perf_counter()
        maps[method.name] = method.compute(predicted)
        seconds[method.name] = time.perf_counter() - begun
    similarity = map_similarity(maps[config.cam_method])  # the model's own answers, before the pointing game
    methods, found = _score_methods(model, images, maps, predicted, geometry, config)
    for method in ordered_methods():
        name = method.name
        if boxes is not None:
            if truth is not None:
                begun = time.perf_counter()
                maps[name][wrong] = method.compute(truth)
                seconds[name] += time.perf_counter() - begun
            hits, _ = pointing_hits(maps[name], boxes, geometry, image_size, sizes)
            methods[name]["pointing_game"] = bootstrap_interval(hits.astype(float), seed=config.seed)
        kind = {"baseline": method.baseline, "pixels": method.pixels, "seconds": round(seconds[name], 2)}
        methods[name] = {**kind, **methods[name]}
    curves = {
        name: (found[name]["deletion"], found[name]["insertion"], row["baseline"]) for name, row in methods.items()
    }
    title = f"{len(paths)} test images; the CAMs at {layer}, the pixel methods at the input's pixels"
    pictures.save_faithfulness_curves(
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


def sanity_methods(config: RunConfig) -> list[str]:
    """The randomisation check's methods: ``--sanity-methods``, then the run's method when not among them."""
    listed = list(dict.fromkeys(config.sanity_methods))
    return listed if config.cam_method in listed else [*listed, config.cam_method]


def check_randomisation(model, images: np.ndarray, config: RunConfig, layer: str, layout: outputs.RunLayout) -> dict:
    """The cascading randomisation of every ``sanity_methods`` method; sanity.png; the summary for metrics.json."""
    names, options = sanity_methods(config), config.pixel_options()
    found = randomization_sanities(model, images, names, layer, config.seed, config.sanity_steps, options)
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
