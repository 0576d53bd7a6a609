"""Where the maps point: the pointing game (does a map's peak fall in the object's box?) and how far maps
move between two epochs (the top cells' overlap)."""

from __future__ import annotations

import numpy as np

from ..explain import cams
from ..models.geometry import receptive_field
from ..settings.config import PICTURE_BATCH_SIZE


def pointing_hits(maps: np.ndarray, boxes, geometry, side: int, original_sizes=None) -> tuple[np.ndarray, np.ndarray]:
    """(hits (n,), centre hits (n,)) bools: does each map's peak, placed at its cell's receptive-field
    centre, fall in the box; and would pointing at the image centre.

    Args:
        maps: (n, h, w) maps; boxes: (n, 4) (x0, y0, x1, y1) in original-image pixels.
        geometry: (stride, offset) of the maps' layer; side: the model input side.
        original_sizes: (n, 2) (width, height) of the originals; default: the model input size.
    """
    stride, offset = (1.0, 0.0) if maps.shape[1:] == (side, side) else geometry  # a pixel map: cells are pixels
    count = len(maps)
    flat = maps.reshape(count, -1).argmax(axis=1)
    rows, columns = np.unravel_index(flat, maps.shape[1:])
    sizes = np.asarray(original_sizes if original_sizes is not None else [(side, side)] * count, dtype=np.float64)
    x = (stride * columns + offset + 0.5) * sizes[:, 0] / side - 0.5  # model pixel -> original pixel
    y = (stride * rows + offset + 0.5) * sizes[:, 1] / side - 0.5
    boxes = np.asarray(boxes, dtype=np.float64)

    def inside(x_value, y_value):
        return (boxes[:, 0] <= x_value) & (x_value <= boxes[:, 2]) & (boxes[:, 1] <= y_value) & (y_value <= boxes[:, 3])

    return inside(x, y), inside((sizes[:, 0] - 1) / 2, (sizes[:, 1] - 1) / 2)


def pointing_game(model, images: np.ndarray, class_indices, boxes, layer_name: str, original_sizes=None) -> dict:
    """Share of images whose Grad-CAM peak, placed at its receptive-field centre, falls in the object's box.

    Args:
        model: The classifier.
        images: (n, S, S, 3) in the model's input scale.
        class_indices: (n,) the true classes (the map explains the ground truth, as in the pointing game).
        boxes: (n, 4) boxes (x0, y0, x1, y1) in original-image pixels.
        layer_name: The Grad-CAM layer.
        original_sizes: (n, 2) (width, height) of the originals; default: the model input size.

    Returns:
        {"hits": [bool]*n, "score": fraction, "centre": fraction for always pointing at the image centre}.
    """
    count = images.shape[0]
    class_indices = np.asarray(class_indices)
    maps = np.concatenate(
        [
            cams.gradcam(
                model,
                images[start : start + PICTURE_BATCH_SIZE],
                class_indices[start : start + PICTURE_BATCH_SIZE],
                layer_name,
            )
            for start in range(0, count, PICTURE_BATCH_SIZE)
        ]
    )
    hits, centre = pointing_hits(maps, boxes, receptive_field(model, layer_name), images.shape[1], original_sizes)
    return {"hits": hits.tolist(), "score": float(hits.mean()), "centre": float(centre.mean())}


TOP_FRACTION = 0.2  # cam_drift compares the top 20% of cells


def top_cells(maps: np.ndarray, fraction: float = TOP_FRACTION) -> np.ndarray:
    """(n, h, w) bool: each map's ``fraction`` highest cells (ties at the threshold included), positive only."""
    flat = maps.reshape(len(maps), -1)
    count = max(1, int(round(fraction * flat.shape[1])))
    threshold = -np.sort(-flat, axis=1)[:, count - 1 : count]  # (n, 1) the count-th largest value
    return ((flat >= threshold) & (flat > 0)).reshape(maps.shape)


def cam_drift(previous: np.ndarray, current: np.ndarray, fraction: float = TOP_FRACTION) -> float:
    """Mean over images of 1 - IoU of the top cells of two (n, h, w) map sets; two empty maps agree."""
    before, after = top_cells(previous, fraction), top_cells(current, fraction)
    union = (before | after).sum(axis=(1, 2))
    overlap = (before & after).sum(axis=(1, 2))
    iou = np.divide(overlap, union, out=np.ones(len(union)), where=union > 0)
    return float(np.mean(1.0 - iou))
