"""Saliency (Simonyan et al., 2014): the gradient of the class score before the softmax with respect to each
pixel; drawn as its magnitude, the largest over the colour channels (the paper's map)."""

from __future__ import annotations

import numpy as np

from .base import input_gradients, register_pixel_method


@register_pixel_method("saliency", natural_reduce="abs_max")
def saliency_attributions(model, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) d score / d pixel, one forward and backward pass per batch."""
    return input_gradients(model, images, classes)[0]
