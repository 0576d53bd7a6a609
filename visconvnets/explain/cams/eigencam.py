"""Eigen-CAM (Muhammad & Yeasin, 2020): the activations projected on their first principal component.
No gradients and no class: it shows what the layer responds to most, whatever the class."""

from __future__ import annotations

import numpy as np

from ..methods import normalise_maps
from .base import CamPass, for_model, register


def eigencam_from_activations(activations: np.ndarray) -> np.ndarray:
    """(n, h, w, c) activations -> (n, h, w) maps in [0, 1].

    Per image, the positions are the samples and the channels the features: centre them, take the
    first right singular vector, project. Its sign is arbitrary, so it is chosen to make the map
    correlate positively with the total activation.
    """
    count, height, width, channels = activations.shape
    flat = activations.reshape(count, height * width, channels).astype(np.float64)  # (n, positions, c)
    centred = flat - flat.mean(axis=1, keepdims=True)
    _, _, right = np.linalg.svd(centred, full_matrices=False)  # right[:, 0]: (n, c) first component
    projection = np.einsum("npc,nc->np", centred, right[:, 0])  # (n, positions)
    total = flat.sum(axis=2)
    agreement = np.einsum("np,np->n", projection, total - total.mean(axis=1, keepdims=True))
    sign = np.where(agreement < 0, -1.0, 1.0)[:, None]
    return normalise_maps((projection * sign).reshape(count, height, width))


@register("eigencam")
def _eigencam(cam_pass: CamPass) -> np.ndarray:
    return eigencam_from_activations(cam_pass.activations)


eigencam = for_model("eigencam")
