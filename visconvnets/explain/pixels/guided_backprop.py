"""Guided backpropagation (Springenberg et al., 2015): the gradient of the class score before the softmax,
with every ReLU passing back only positive gradients at positive inputs. It draws crisp edges, and
Adebayo et al. (2018) showed on InceptionV3 that it hardly changes when the weights are randomised: it shows
the image more than the model. Kept on purpose, so the randomisation check can show exactly that."""

from __future__ import annotations

import numpy as np

from .base import input_gradients, register_pixel_method


@register_pixel_method("guided_backprop", natural_reduce="abs_sum")
def guided_backprop_attributions(model, images: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) the guided gradient, one forward and backward pass per batch."""
    return input_gradients(model, images, classes, guided=True)[0]
