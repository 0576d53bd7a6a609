"""Occlusion (Zeiler & Fergus, 2014): how much the class score before the softmax drops when a square patch
of the image is set to the baseline value; each pixel gets the mean drop over the patches that cover it."""

from __future__ import annotations

import numpy as np

from .base import class_logits, register_pixel_method, spread_over_channels

PATCH_SHARE = 8  # patch side: the image's shorter side / this (16 px at 128, 37 at 299): 15 x 15 positions


def patch_corners(side: int, patch: int, stride: int) -> list[int]:
    """Top (or left) edges of the patches along one side: every ``stride`` pixels, the last flush with the
    edge so that every pixel is covered."""
    if not 1 <= patch <= side or stride < 1:
        raise ValueError(f"occlusion needs 1 <= patch <= {side} and stride >= 1, got patch={patch}, stride={stride}")
    corners = list(range(0, side - patch + 1, stride))
    return corners if corners[-1] == side - patch else [*corners, side - patch]


@register_pixel_method("occlusion", natural_reduce="sum", options=("patch", "stride", "value"))
def occlusion_attributions(
    model, images: np.ndarray, classes: np.ndarray, patch: int | None = None, stride: int | None = None, value=0.0
) -> np.ndarray:
    """(n, H, W, 3) each pixel's mean score drop over the patches covering it, spread equally over the three
    channels (so the channels sum to the pixel's drop); every occluded copy in batches by pixels.

    ``patch`` None: the shorter side / ``PATCH_SHARE``; ``stride`` None: half the patch (each pixel under
    about four patches). Costs images x positions forward passes (about 225 per image by default)."""
    count, height, width = images.shape[:3]
    patch = max(1, min(height, width) // PATCH_SHARE) if patch is None else int(patch)
    stride = max(1, patch // 2) if stride is None else int(stride)
    rows, columns = patch_corners(height, patch, stride), patch_corners(width, patch, stride)
    positions = [(top, left) for top in rows for left in columns]
    masks = np.zeros((len(positions), height, width), bool)  # (p, H, W) True inside each patch
    for index, (top, left) in enumerate(positions):
        masks[index, top : top + patch, left : left + patch] = True
    inside = masks[..., None]  # (p, H, W, 1)

    def occluded(start: int, stop: int) -> np.ndarray:  # copies start..stop: image k // p, patch k % p
        which = np.arange(start, stop)
        return np.where(inside[which % len(positions)], np.float32(value), images[which // len(positions)])

    total = count * len(positions)
    scores = class_logits(model, total, occluded, np.repeat(classes, len(positions)))
    plain = class_logits(model, count, lambda start, stop: images[start:stop], classes)
    drops = plain[:, None] - scores.reshape(count, len(positions))  # (n, p)
    covered = np.einsum("np,phw->nhw", drops, masks.astype(np.float64)) / masks.sum(axis=0)  # mean over covers
    return spread_over_channels(covered)
