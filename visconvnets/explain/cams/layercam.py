"""LayerCAM (Jiang et al., 2021): every position weighted by its own positive gradient, so fine detail
of early layers survives (Grad-CAM's one weight per channel averages it away)."""

from __future__ import annotations

import numpy as np

from .base import for_model, register_gradient_method


def layercam_weighted(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """(n, h, w, c) activations and gradients -> (n, h, w) sum_k ReLU(g^k_ij) A^k_ij, before ReLU and scaling."""
    return np.einsum("nhwc,nhwc->nhw", np.maximum(gradients, 0.0), activations)


register_gradient_method("layercam", layercam_weighted)
layercam = for_model("layercam")
