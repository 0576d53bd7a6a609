"""Heatmaps over photos: cells upsampled to their receptive-field centres, blended at the photo's resolution."""

from __future__ import annotations

import numpy as np

from .common import colormap_lut


def _interpolation_matrix(target: int, cells: int, centre_of_cell) -> np.ndarray:
    """(target, cells) linear-interpolation weights: row y mixes the two cells whose centres
    (``centre_of_cell(j)`` in target pixels) surround pixel y; constant beyond the outer centres."""
    centres = centre_of_cell(np.arange(cells, dtype=np.float64))
    position = np.interp(np.arange(target, dtype=np.float64), centres, np.arange(cells, dtype=np.float64))
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, cells - 1)
    fraction = position - lower
    matrix = np.zeros((target, cells))
    matrix[np.arange(target), lower] += 1 - fraction
    matrix[np.arange(target), upper] += fraction
    return matrix


def upsample_heatmaps(maps: np.ndarray, output_shape: tuple[int, int], geometry=None, input_size=None) -> np.ndarray:
    """Upsample (n, h, w) maps to (n, H, W) = ``output_shape``, bilinearly between cell centres.

    Without ``geometry`` the cells tile the output evenly (a plain resize). With ``geometry=(stride,
    offset)`` cell j is centred at model-input pixel ``stride * j + offset``, scaled from the model's
    ``input_size`` (default: the output size) to the output resolution.
    """
    maps = np.asarray(maps, np.float64)
    height, width = maps.shape[1:]
    rows, columns = output_shape
    if geometry is None:
        row_matrix = _interpolation_matrix(rows, height, lambda j: (j + 0.5) * rows / height - 0.5)
        column_matrix = _interpolation_matrix(columns, width, lambda j: (j + 0.5) * columns / width - 0.5)
    else:
        stride, offset = float(geometry[0]), float(geometry[1])
        size_rows, size_columns = (input_size, input_size) if input_size else (rows, columns)
        row_matrix = _interpolation_matrix(rows, height, lambda j: (stride * j + offset + 0.5) * rows / size_rows - 0.5)
        column_matrix = _interpolation_matrix(
            columns, width, lambda j: (stride * j + offset + 0.5) * columns / size_columns - 0.5
        )
    return np.einsum("Hh,nhw,Ww->nHW", row_matrix, maps, column_matrix).astype(np.float32)


def upsample_heatmap(heatmap: np.ndarray, output_shape: tuple[int, int], geometry=None, input_size=None) -> np.ndarray:
    """One (h, w) map to ``output_shape`` (H, W); see ``upsample_heatmaps``."""
    return upsample_heatmaps(np.asarray(heatmap)[None], output_shape, geometry, input_size)[0]


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
