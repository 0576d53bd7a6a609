"""Grad-CAM (Selvaraju et al., 2017): channel weights are the spatially averaged gradients."""

from __future__ import annotations

import numpy as np

from .base import for_model, register_gradient_method


def gradcam_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """(n, h, w, c) activations and gradients -> (n, h, w) sum_k alpha_k A^k, before ReLU and scaling."""
    weights = gradients.mean(axis=(1, 2))  # (n, c): alpha_k^c, global-average-pooled gradients
    return np.einsum("nhwc,nc->nhw", activations, weights)


register_gradient_method("gradcam", gradcam_weighted)
gradcam = for_model("gradcam")
