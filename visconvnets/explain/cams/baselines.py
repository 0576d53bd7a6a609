"""Baselines with the methods' interface: what an explanation must beat to deserve belief.

* ``random``: seeded uniform noise at the layer's resolution (a map that knows nothing).
* ``centre``: a Gaussian at the image centre (photographers centre their subject).
* ``sobel``: the input's edge magnitude at each cell's receptive-field centre (an edge detector, which
  a map that survives the weight-randomisation check is no better than).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ...models.geometry import receptive_field
from ..methods import normalise_maps
from .base import CamPass, register

CENTRE_SIGMA = 0.25  # the centre baseline's standard deviation, as a fraction of the image side


def _cell_centres(cam_pass: CamPass) -> np.ndarray:
    """(h,) input-pixel coordinates of the layer's cell centres (square maps and images)."""
    stride, offset = receptive_field(cam_pass.model, cam_pass.layer_name)
    return stride * np.arange(cam_pass.activations.shape[1]) + offset


@register("random", baseline=True)
def random_maps(cam_pass: CamPass) -> np.ndarray:
    count, height, width = cam_pass.activations.shape[:3]
    return normalise_maps(np.random.default_rng(cam_pass.seed).random((count, height, width)))


@register("centre", baseline=True)
def centre_maps(cam_pass: CamPass) -> np.ndarray:
    side = cam_pass.images.shape[1]
    centres = _cell_centres(cam_pass)
    profile = np.exp(-(((centres - (side - 1) / 2) / (CENTRE_SIGMA * side)) ** 2) / 2)  # (h,)
    return normalise_maps(np.broadcast_to(np.outer(profile, profile), cam_pass.activations.shape[:3]).copy())


@register("sobel", baseline=True)
def sobel_maps(cam_pass: CamPass) -> np.ndarray:
    grey = tf.reduce_mean(tf.convert_to_tensor(cam_pass.images, tf.float32), axis=-1, keepdims=True)  # (n, H, W, 1)
    gradients = tf.image.sobel_edges(grey)  # (n, H, W, 1, 2): vertical and horizontal
    magnitude = tf.norm(gradients, axis=-1)  # (n, H, W, 1)
    stride, _ = receptive_field(cam_pass.model, cam_pass.layer_name)
    window = max(1, int(round(stride)))  # average over about one cell
    smoothed = tf.nn.avg_pool2d(magnitude, ksize=window, strides=1, padding="SAME").numpy()[..., 0]
    index = np.clip(np.round(_cell_centres(cam_pass)).astype(int), 0, smoothed.shape[1] - 1)
    return normalise_maps(smoothed[:, index][:, :, index])
