"""Integrated gradients (Sundararajan et al., 2017): the gradient of the class score before the softmax
averaged along the straight path from a baseline image (black by default) to the image, times the image
minus the baseline. The attributions add up to score(image) - score(baseline) (completeness) as ``steps``
grows; the midpoint Riemann sum used here gets within 1% at 64 steps on smooth models."""

from __future__ import annotations

import numpy as np

from .base import mean_gradient, register_pixel_method

STEPS = 32  # points on the path (the paper: 20-300; 32 keeps the demo within its time, see --help)


def baseline_images(images: np.ndarray, baseline) -> np.ndarray:
    """(n, H, W, 3) the path's start: ``"black"`` (zeros), a number (every pixel that value), or an array
    broadcast to the images."""
    if isinstance(baseline, str):
        if baseline != "black":
            raise ValueError(f"baseline must be 'black', a number or an array, got {baseline!r}")
        return np.zeros_like(images)
    return np.broadcast_to(np.asarray(baseline, np.float32), images.shape).astype(np.float32)


@register_pixel_method("integrated_gradients", natural_reduce="abs_sum", options=("steps", "baseline"))
def integrated_gradients_attributions(
    model, images: np.ndarray, classes: np.ndarray, steps: int = STEPS, baseline="black"
) -> np.ndarray:
    """(n, H, W, 3) (image - baseline) times the mean gradient at the midpoints of ``steps`` equal pieces of
    the path; all ``steps * n`` points in batches by pixels."""
    if int(steps) < 1:
        raise ValueError(f"integrated gradients needs steps >= 1, got {steps}")
    start = baseline_images(images, baseline)
    alphas = ((np.arange(int(steps)) + 0.5) / int(steps)).astype(np.float32)  # (steps,) midpoints
    points = start[None] + alphas[:, None, None, None, None] * (images - start)[None]  # (steps, n, H, W, 3)
    return ((images - start) * mean_gradient(model, points, classes)).astype(np.float32)
