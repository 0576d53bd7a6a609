"""The cost model's counter: how many images each kind of model pass has run in this process.

Every pass through a model goes through a few functions (``forward.probabilities``, the CAM passes, the input
gradients, the class logits, the activations, the ascent steps, Keras's ``predict`` and ``fit``); each adds its
images here, weighted by the share of the model's multiply-adds it runs (a pass cut at a layer, a smaller
image: ``forward.count_passes``). A run's stopwatch reads the counter before and after each stage and prices the
difference with what one pass costs on this machine (``run.costs``), so a stage slower than its passes shows.

Kinds:
* ``forward``: one image through the model (inference);
* ``gradient``: one image forward and backward (an input gradient, a CAM pass, an ascent step);
* ``training``: one image of a training step (forward, backward to the weights, the update), priced as a gradient
  pass: what training does beyond that (the optimizer, augmentation, the first step's tracing) is its overhead.
"""

from __future__ import annotations

KINDS = ("forward", "gradient", "training")
_COUNTS = dict.fromkeys(KINDS, 0.0)


def add(kind: str, images: float) -> None:
    """Count ``images`` image-passes of ``kind`` (full-model, model-sized equivalents)."""
    if kind not in _COUNTS:
        raise ValueError(f"a pass kind is one of {', '.join(KINDS)}, got {kind!r}")
    _COUNTS[kind] += float(images)


def counts() -> dict[str, float]:
    """{kind: image-passes counted so far in this process}."""
    return dict(_COUNTS)


def since(before: dict[str, float]) -> dict[str, float]:
    """{kind: image-passes counted since ``before`` (a ``counts()``)}."""
    return {kind: _COUNTS[kind] - before.get(kind, 0.0) for kind in KINDS}
