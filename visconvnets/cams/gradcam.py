"""Grad-CAM (Selvaraju et al., 2017): channel weights are the spatially averaged gradients."""

from __future__ import annotations

import numpy as np

from .base import activations_and_gradients, normalise_maps, register_gradient_method


def gradcam_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """(n, h, w, c) activations and gradients -> (n, h, w) sum_k alpha_k A^k, before ReLU and scaling."""
    weights = gradients.mean(axis=(1, 2))  # (n, c): alpha_k^c, global-average-pooled gradients
    return np.einsum("nhwc,nc->nhw", activations, weights)


def gradcam_from_gradients(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """(n, h, w, c) activations and gradients -> (n, h, w) maps in [0, 1]: ReLU(sum_k alpha_k A^k) / max."""
    return normalise_maps(gradcam_weighted(activations, gradients))


def gradcam(model, images, class_index=None, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM heatmaps for a batch, from the class score before the softmax.

    Args:
        model: Flat or nesting a backbone; a softmax output is read as its logits.
        images: (n, H, W, 3) in the model's input scale (raw 0-255 RGB for this project's models).
        class_index: None (each image's predicted class), an int, or one int per image.
        layer_name: None means ``mixed10`` for InceptionV3, else the last layer with a 4-D output.

    Returns:
        (n, h, w) float32 in [0, 1] at the layer's spatial resolution; all zeros where nothing is positive.
    """
    activations, gradients, _, _ = activations_and_gradients(model, images, class_index, layer_name)
    return gradcam_from_gradients(activations, gradients)


register_gradient_method("gradcam", gradcam_weighted)
