"""How far to trust this run: checks on what the run measured, each with its likely cause and what to
try -> ``metrics.json`` ``health`` and a box at the top of the report. The pictures stay; the box says
when not to believe them."""

from __future__ import annotations

from pathlib import Path

from scipy import stats

from ..settings import outputs

CHANCE_P_VALUE = 0.01  # accuracy must beat the majority-class rate at this one-sided binomial level
ONE_CLASS_SHARE = 0.8  # "one class predicted for almost every image"
SAME_MAPS_CORRELATION = 0.9  # mean pairwise correlation of the maps across images
SMALL_MAP_CELLS = 3  # a map of 3x3 cells or fewer cannot say where the evidence is
FEW_TRAINING_IMAGES, FEW_EPOCHS = 1000, 10  # from scratch below either: a warning that the features are weak
DEAD_SHARE = 0.5  # a layer with more than half its channels constant in every image drawn
DEAD_MIN_CELLS = 5  # only maps of at least 5x5 cells count (constant over fewer says little)
PATTERNS_AT_99TH = 0.5  # a layer whose patterns mostly fall short of the 99th percentile of real photos


def _warning(message: str) -> dict:
    return {"level": "warning", "message": message}


def _info(message: str) -> dict:
    return {"level": "info", "message": message}


def binomial_tail(successes: int, trials: int, probability: float) -> float:
    """P(X >= successes) for X ~ Binomial(trials, probability) (``scipy.stats.binom.sf``)."""
    if successes <= 0:
        return 1.0
    return float(min(1.0, stats.binom.sf(successes - 1, trials, probability)))


def _accuracy_checks(metrics: dict) -> list[dict]:
    test = metrics.get("test")
    if not test:
        return []
    found, matrix = [], test["confusion_matrix"]
    count = sum(map(sum, matrix))
    majority = max(sum(row) for row in matrix) / count
    correct = sum(matrix[index][index] for index in range(len(matrix)))
    p_value = binomial_tail(correct, count, majority)
    if p_value > CHANCE_P_VALUE:
        found.append(
            _warning(
                f"Test accuracy {correct / count:.2f} is not clearly above chance (always the largest class: "
                f"{majority:.2f}; binomial p = {p_value:.2g} over {count} images). Likely cause: too little training "
                "(from scratch, few epochs) or too few images. Try more epochs, pretrained weights (--weights "
                "imagenet), or more data; until then every picture below shows an untrained network."
            )
        )
    predicted = [sum(column) for column in zip(*matrix)]
    if len(matrix) > 1 and max(predicted) >= ONE_CLASS_SHARE * count:
        name = metrics["classes"][predicted.index(max(predicted))]
        found.append(
            _warning(
                f"One class, {name}, is predicted for {max(predicted)} of {count} test images. Likely cause: "
                "the model collapsed to the majority or easiest class. Try a lower learning rate, more epochs, or "
                "balanced classes."
            )
        )
    return found


def _map_checks(metrics: dict) -> list[dict]:
    found, faithfulness = [], metrics.get("faithfulness") or {}
    cells = faithfulness.get("cells")
    if cells and min(cells) <= SMALL_MAP_CELLS:
        found.append(
            _warning(
                f"The map layer {faithfulness['layer']} has only {cells[0]}x{cells[1]} cells: every map is "
                "a blob that cannot say where in the photo the evidence is. Try a larger --image-size or an earlier "
                "--gradcam-layer."
            )
        )
    similarity = faithfulness.get("map_similarity")
    if similarity is not None and similarity > SAME_MAPS_CORRELATION:
        found.append(
            _warning(
                f"The maps are nearly the same for every image (mean pairwise correlation {similarity:.2f}). "
                "Likely cause: the model has not learned to look at the objects (or the layer is too small). The maps "
                "say little about these images."
            )
        )
    removal = faithfulness.get("removal")
    if removal and removal["removals"][removal["used"]]["flagged"]:
        kept, least = {name: found["kept"] for name, found in removal["removals"].items()}, removal["least"]
        found.append(
            _warning(
                f"Removing every pixel by {removal['used']} still leaves {kept[removal['used']]:.0%} of the class "
                f"(p {removal['removals'][removal['used']]['removed']:.2f}; the images {removal['original']:.2f}, "
                f"chance {removal['chance']:.2f}): deletion and insertion cannot measure faithfulness with this "
                f"removal on this model (what it keeps, likely colour, carries the class). Try --removal {least} "
                f"({kept[least]:.0%} kept)."
            )
        )
    method = (metrics.get("visualizations") or {}).get("cam_method", "gradcam")
    against_random = [
        comparison
        for comparison in faithfulness.get("comparisons", [])
        if comparison["method"] == method and comparison["baseline"] == "random"
    ]
    if against_random and not any(comparison["verdict"] == "better" for comparison in against_random):
        needed = [comparison["images_to_decide"] for comparison in against_random if comparison["images_to_decide"]]
        more = f" About {min(needed)} images would likely decide the closest one." if needed else ""
        found.append(
            _warning(
                f"{method} is not decided better than a random map on any score (deletion, insertion, ROAD"
                f"{', pointing game' if any(c['score'] == 'pointing_game' for c in against_random) else ''}; paired "
                f"tests on {against_random[0]['images']} images). Either the maps do not explain this model or the "
                f"images scored are too few to tell (--faithfulness-images).{more}"
            )
        )
    return found


def _training_and_channel_checks(metrics: dict, out_dir: Path) -> list[dict]:
    found = []
    train = sum((metrics.get("data") or {}).get("counts", {}).get("train", {}).values())
    epochs = (metrics.get("training") or {}).get("epochs_run", 0)
    if metrics.get("trained_from_scratch") and (train < FEW_TRAINING_IMAGES or epochs < FEW_EPOCHS):
        found.append(
            _info(
                f"Trained from scratch on {train} images for {epochs} epochs: the features are this data "
                "set's alone and weak next to a pretrained network's. Filter patterns and grids of such a model are "
                "mostly colour and texture; use --weights imagenet to see what a pretrained network learned."
            )
        )
    shares: dict[str, list[float]] = {}  # layer -> share of constant channels in each image drawn
    for index in sorted((out_dir / outputs.ACTIVATIONS).glob(f"*/{outputs.GRID_INDEX}")):
        for entry in outputs.read_json(index):
            if min(entry["shape"][:2]) >= DEAD_MIN_CELLS:  # a 3x3 map of a sparse late layer is often all zero
                shares.setdefault(entry["layer"], []).append(entry["dead"] / entry["shape"][-1])
    worst = max(((min(values), layer, len(values)) for layer, values in shares.items()), default=(0.0, "", 0))
    if worst[0] > DEAD_SHARE:
        found.append(
            _warning(
                f"At least {worst[0]:.0%} of the channels of {worst[1]} are dead (constant) in each of the "
                f"{worst[2]} images drawn. Likely cause: ReLUs that stopped firing after too high a learning rate. "
                "Try a lower --learning-rate."
            )
        )
    return found


def _pattern_checks(out_dir: Path) -> list[dict]:
    """Layers whose filter patterns mostly drive their unit less than the strongest 1% of the test images do
    (``filters/index.json``, written with the dataset examples)."""
    layers = outputs.read_json(out_dir / outputs.FILTERS / outputs.GRID_INDEX).get("layers", [])
    found = []
    blank = [(len(entry["blank"]), len(entry["filters"]), entry["layer"]) for entry in layers if entry.get("blank")]
    if blank:
        named = ", ".join(f"{layer} ({count} of {total})" for count, total, layer in blank)
        found.append(
            _info(
                f"Some filter patterns leave their unit at exactly 0: {named}. The ascent never made those units "
                "fire, so there is no pattern to show (drawn as grey squares); the test crops beside them show what "
                "does excite them. Try more --filter-steps or another --filter-parameterization."
            )
        )
    weak = [(entry["at_99th"], entry["layer"]) for entry in layers if entry.get("at_99th", 1.0) < PATTERNS_AT_99TH]
    if weak:
        named = ", ".join(f"{layer} ({share:.0%})" for share, layer in weak)
        found.append(
            _info(
                f"Few filter patterns drive their unit past the 99th percentile of the test images: {named}. Those "
                "patterns are not pictures of what the units want most; the test crops beside them are the better "
                "evidence. Try more --filter-steps or --filter-parameterization fourier."
            )
        )
    return found


def assess(metrics: dict, out_dir: Path, echo: bool = False) -> list[dict]:
    """Every check that fires, most serious first: [{"level": "warning" | "info", "message": ...}];
    printed too with ``echo``."""
    found = _accuracy_checks(metrics) + _map_checks(metrics) + _training_and_channel_checks(metrics, Path(out_dir))
    found += _pattern_checks(Path(out_dir))
    found = sorted(found, key=lambda item: item["level"] != "warning")
    for item in found if echo else []:
        print(f"{item['level']}: {item['message']}")
    return found
