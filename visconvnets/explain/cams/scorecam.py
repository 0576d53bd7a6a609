"""Score-CAM (Wang et al., 2020): no gradients. Each channel's map, upsampled to the image and scaled
to [0, 1], masks the input; the channel's weight is the class probability of the masked image.

Faster-Score-CAM style, only the ``TOP_CHANNELS`` channels with the largest mean activation are
scored (a layer such as InceptionV3's ``mixed7`` has 768): n x TOP_CHANNELS masked images, batched.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ...models.forward import class_probabilities
from ..methods import normalise_maps
from .base import CamPass, for_model, register

TOP_CHANNELS = 32  # channels scored per image: 32 forward passes each instead of one per channel


def _masks(selected: np.ndarray, image_shape: tuple[int, int]) -> np.ndarray:
    """(n, h, w, k) channel maps -> (n, H, W, k) masks, each upsampled bilinearly and min-max scaled to [0, 1]."""
    upsampled = tf.image.resize(selected, image_shape, method="bilinear").numpy()
    low = upsampled.min(axis=(1, 2), keepdims=True)
    span = upsampled.max(axis=(1, 2), keepdims=True) - low
    return np.divide(upsampled - low, span, out=np.zeros_like(upsampled), where=span > 0)


def masked_scores(model, images: np.ndarray, masks: np.ndarray, class_indices: np.ndarray) -> np.ndarray:
    """Class probability of every image under every one of its masks.

    Args:
        images: (n, H, W, 3); masks: (n, H, W, k) in [0, 1]; class_indices: (n,).

    Returns:
        (n, k) softmax probabilities of each image's class, the n * k masked images run in batches.
    """
    count, _, _, keep = masks.shape
    image_of, mask_of = np.repeat(np.arange(count), keep), np.tile(np.arange(keep), count)

    def make_batch(start: int, stop: int) -> np.ndarray:
        rows, columns = image_of[start:stop], mask_of[start:stop]
        return images[rows] * masks[rows, :, :, columns][..., None]  # (b, H, W, 3): the image through one mask

    scores = class_probabilities(model, count * keep, make_batch, class_indices[image_of])
    return scores.reshape(count, keep)


def scorecam_maps(cam_pass: CamPass, top_channels: int = TOP_CHANNELS) -> np.ndarray:
    """(n, h, w) maps in [0, 1]: ReLU(sum_k w_k A^k) over the ``top_channels`` most active channels."""
    activations = cam_pass.activations  # (n, h, w, c)
    keep = min(top_channels, activations.shape[-1])
    chosen = np.argsort(-activations.mean(axis=(1, 2)), axis=1, kind="stable")[:, :keep]  # (n, k)
    selected = np.take_along_axis(activations, chosen[:, None, None, :], axis=3)  # (n, h, w, k)
    masks = _masks(selected, cam_pass.images.shape[1:3])
    weights = masked_scores(cam_pass.model, cam_pass.images, masks, cam_pass.indices)  # (n, k)
    return normalise_maps(np.einsum("nhwk,nk->nhw", selected, weights))


register("scorecam")(scorecam_maps)
scorecam = for_model("scorecam")
