"""Grad-CAM++ (Chattopadhay et al., 2018): same gradients, pixel-weighted channel weights."""

from __future__ import annotations

import numpy as np

from .base import for_model, register_gradient_method


def gradcam_plus_plus_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """(n, h, w, c) activations and gradients -> (n, h, w) weighted sums, before ReLU and scaling.

    alpha = g^2 / (2 g^2 + sum_ab(A) g^3) (the exponential-score closed form), weights =
    sum_ab(alpha * ReLU(g)).
    """
    squared, cubed = gradients**2, gradients**3
    activation_sums = activations.sum(axis=(1, 2), keepdims=True)  # (n, 1, 1, c)
    denominator = 2 * squared + activation_sums * cubed
    alpha = np.divide(squared, denominator, out=np.zeros_like(squared), where=np.abs(denominator) > 1e-12)
    weights = (alpha * np.maximum(gradients, 0)).sum(axis=(1, 2))  # (n, c)
    return np.einsum("nhwc,nc->nhw", activations, weights)


register_gradient_method("gradcam++", gradcam_plus_plus_weighted)
gradcam_plus_plus = for_model("gradcam++")
