"""VisConvNets: fine-tune InceptionV3 on class folders and see what it learned.

Importing the package is cheap: the names below load their module (and TensorFlow, where the
module needs it) on first use, so the split, which needs no TensorFlow, starts fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "split_dataset": "split",
    "split_counts": "split",
    "format_report": "split",
    "read_split_csv": "split",
    "find_class_folders": "split",
    "generate_flowers": "synthetic",
    "load_images": "images",
    "scan_split_folder": "data",
    "build_model": "model",
    "load_trained_model": "saved_model",
    "layer_activations": "activations",
    "activation_grid": "rendering",
    "dead_channels": "rendering",
    "save_activation_grids": "explain",
    "overlay_heatmap": "rendering",
    "filter_patterns": "filters",
    "cam": "cams",
    "gradcam": "cams",
    "gradcam_plus_plus": "cams",
    "layercam": "cams",
    "hirescam": "cams",
    "scorecam": "cams",
    "eigencam": "cams",
    "deletion_insertion": "faithfulness",
    "road_scores": "faithfulness",
    "bootstrap_interval": "faithfulness",
    "randomization_sanity": "sanity",
    "receptive_field": "geometry",
    "pointing_game": "evaluation",
    "run": "workflow",
    "RunConfig": "config",
    "write_report": "report",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'visconvnets' has no attribute {name!r}")


def __dir__():
    return __all__
