"""SmoothGrad (Smilkov et al., 2017): the gradient of the class score before the softmax, averaged over
``samples`` noisy copies of the image (Gaussian noise of ``sigma`` times the image's own value range), which
removes the gradient's pixel-to-pixel noise. ``sigma=0`` gives the plain saliency gradient."""

from __future__ import annotations

import numpy as np

from .base import mean_gradient, register_pixel_method

SAMPLES = 16  # noisy copies per image (the paper: 50; 16 already removes most of the speckle)
SIGMA = 0.15  # noise standard deviation as a share of each image's value range (the paper's 10-20%)


@register_pixel_method("smoothgrad", natural_reduce="abs_sum", options=("samples", "sigma", "seed"))
def smoothgrad_attributions(
    model, images: np.ndarray, classes: np.ndarray, samples: int = SAMPLES, sigma: float = SIGMA, seed: int = 0
) -> np.ndarray:
    """(n, H, W, 3) mean gradient over ``samples`` noisy copies per image, all copies in batches by pixels."""
    if int(samples) < 1 or not sigma >= 0:
        raise ValueError(f"smoothgrad needs samples >= 1 and sigma >= 0, got samples={samples}, sigma={sigma}")
    spread = (images.max(axis=(1, 2, 3)) - images.min(axis=(1, 2, 3))) * sigma  # (n,) per image
    noise = np.random.default_rng(seed).standard_normal((int(samples), *images.shape), dtype=np.float32)
    noisy = images[None] + noise * spread[None, :, None, None, None].astype(np.float32)  # (samples, n, H, W, 3)
    return mean_gradient(model, noisy, classes).astype(np.float32)
