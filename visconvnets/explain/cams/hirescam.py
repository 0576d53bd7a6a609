"""HiResCAM (Draelos & Carin, 2020): gradient times activation, summed over channels, position by
position. With a single dense layer after the CAM layer's pooling it shows exactly which positions
raised the score; where the gradient is the same at every position (the layer feeding a global
average pool) it equals Grad-CAM."""

from __future__ import annotations

import numpy as np

from .base import for_model, register_gradient_method


def hirescam_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """(n, h, w, c) activations and gradients -> (n, h, w) sum_k g^k_ij A^k_ij, before ReLU and scaling."""
    return np.einsum("nhwc,nhwc->nhw", gradients, activations)


register_gradient_method("hirescam", hirescam_weighted)
hirescam = for_model("hirescam")
