"""What a run's stages cost against the model passes they ran: the cost model of ``metrics.json`` -> ``timings``.

At start-up a short probe measures, on the run's own model and machine, what one image costs forward
(inference) and forward and backward (an input gradient), at the model's input size (``probe_pass_costs``). Each
stage's passes (counted by ``models.passes``, read by ``run.timing.Stopwatch``) priced at those costs give the
seconds the stage cannot go below; the ratio of its seconds to them shows where a stage spends beyond its
passes (``stage_costs``). Training's images are priced as gradient passes: the weight update, augmentation and
the first step's tracing are what its ratio shows above 1.
"""

from __future__ import annotations

import time

import numpy as np

from ..explain.pixels.base import input_gradients
from ..models.forward import input_spec, probabilities
from ..models.heads import class_count

PROBE_IMAGES = 16  # images per probe batch: enough to fill the cores, a fraction of a second for InceptionV3
PROBE_REPEATS = 3  # timed batches per kind after one untimed one (its trace): the fastest is kept


def probe_pass_costs(model, image_size: int, seed: int = 0) -> dict:
    """{"forward": seconds per image through the model, "gradient": seconds per image forward and backward (an
    input gradient), "image_size": the side they were measured at, "images": per batch}: the fastest of
    ``PROBE_REPEATS`` batches of ``PROBE_IMAGES`` random images after one untimed batch (which traces the calls
    the run makes anyway: the evaluation's prediction, the pixel attributions' gradient)."""
    side = input_spec(model).shape[1] or image_size
    images = np.random.default_rng(seed).uniform(0, 255, (PROBE_IMAGES, side, side, 3)).astype(np.float32)
    classes = np.arange(PROBE_IMAGES) % class_count(model)
    found = {}
    for kind, run_once in (
        ("forward", lambda: probabilities(model, images)),
        ("gradient", lambda: input_gradients(model, images, classes)),
    ):
        run_once()
        timed = []
        for _ in range(PROBE_REPEATS):
            begun = time.perf_counter()
            run_once()
            timed.append(time.perf_counter() - begun)
        found[kind] = min(timed) / PROBE_IMAGES
    return {**found, "image_size": int(side), "images": PROBE_IMAGES}


PRICED_AS = {"forward": "forward", "gradient": "gradient", "training": "gradient"}


def stage_costs(seconds: dict[str, float], passes: dict[str, dict[str, float]], probe: dict) -> dict:
    """{stage: {"seconds", "passes": {kind: image-passes}, "pass_seconds": what those passes cost at the probe's
    prices, "ratio": seconds / pass_seconds (None for a stage without passes)}} for every timed stage."""
    found = {}
    for name, spent in seconds.items():
        ran = {kind: round(images, 1) for kind, images in passes.get(name, {}).items() if images > 0.05}
        priced = sum(images * probe[PRICED_AS[kind]] for kind, images in ran.items())
        found[name] = {
            "seconds": spent,
            "passes": ran,
            "pass_seconds": round(priced, 2),
            "ratio": round(spent / priced, 2) if priced > 0.01 else None,
        }
    return found
