"""Everything that turns arrays into pictures, and the only code (with ``report``) that writes image files.

Array pictures (activation grids, filter grids, overlays) are built with NumPy and written with Pillow;
plots with axes (training curves, confusion matrix, CAM panels, faithfulness and sanity figures) with
matplotlib's object API, headless.
Nothing here runs a model: callers pass the arrays.
"""

from __future__ import annotations

from .common import HEADER_HEIGHT, HEADER_MIN_WIDTH, add_header, colormap_lut, header_band
from .figures import confusion_matrix_picture, save_cam_panel, save_confusion_matrix, save_training_curves
from .files import save_jpeg, write_activation_grids
from .grids import DEAD_TILE_VALUE, activation_grid, dead_channels, standardise_channels, tile_area, tile_factor
from .map_scores import save_cam_comparison, save_faithfulness_curves, save_sanity_figure
from .overlays import overlay_heatmap
from .units import concept_overlay, save_concept_sheet, save_pattern_rows, save_unit_sheet

__all__ = [
    "DEAD_TILE_VALUE",
    "HEADER_HEIGHT",
    "HEADER_MIN_WIDTH",
    "activation_grid",
    "add_header",
    "colormap_lut",
    "concept_overlay",
    "confusion_matrix_picture",
    "dead_channels",
    "header_band",
    "overlay_heatmap",
    "save_cam_comparison",
    "save_cam_panel",
    "save_concept_sheet",
    "save_confusion_matrix",
    "save_faithfulness_curves",
    "save_jpeg",
    "save_pattern_rows",
    "save_sanity_figure",
    "save_training_curves",
    "save_unit_sheet",
    "standardise_channels",
    "tile_area",
    "tile_factor",
    "write_activation_grids",
]
