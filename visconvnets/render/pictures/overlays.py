"""Heatmaps over photos: cells upsampled to their receptive-field centres, blended at the photo's resolution."""

from __future__ import annotations

import numpy as np

from ...models.geometry import upsample_heatmap
from .common import colormap_lut


def overlay_heatmap(
    image: np.ndarray,
    heatmap: np.ndarray,
    alpha: float = 0.4,
    colormap: str = "jet",
    geometry=None,
    input_size: int | None = None,
) -> np.ndarray:
    """Blend a heatmap over an image at the image's own resolution.

    Args:
        image: (H, W, 3) RGB, uint8 or float in [0, 255], any resolution.
        heatmap: (h, w) in [0, 1], e.g. from ``gradcam``.
        alpha: Heatmap opacity.
        colormap: Matplotlib colormap for the heatmap.
        geometry: None for a plain smooth resize, or (stride, offset) from ``receptive_field`` so every
            cell lands on its receptive-field centre.
        input_size: Side of the model input the geometry refers to (default: the image's own size).

    Returns:
        (H, W, 3) uint8.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must be (height, width, 3), got shape {image.shape}")
    if np.ndim(heatmap) != 2:
        raise ValueError(f"heatmap must be (height, width), got shape {np.shape(heatmap)}")
    upsampled = upsample_heatmap(heatmap, image.shape[:2], geometry, input_size)
    coloured = colormap_lut(colormap)[np.clip(upsampled * 255, 0, 255).astype(np.uint8)].astype(np.float32)
    return np.clip((1 - alpha) * image + alpha * coloured, 0, 255).astype(np.uint8)
