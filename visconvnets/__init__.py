"""VisConvNets: fine-tune InceptionV3 on class folders and see what it learned.

Importing the package is cheap: the names below load their module (and TensorFlow, where the
module needs it) on first use, so the split, which needs no TensorFlow, starts fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "split_dataset": "data.split",
    "split_counts": "data.split",
    "format_report": "data.split",
    "read_split_csv": "data.split",
    "find_class_folders": "data.split",
    "generate_flowers": "data.synthetic",
    "load_images": "data.images",
    "scan_split_folder": "data.folders",
    "build_model": "models.build",
    "load_trained_model": "models.saved",
    "layer_activations": "explain.activations",
    "activation_grid": "render.pictures",
    "dead_channels": "render.pictures",
    "save_activation_grids": "run.pictures",
    "overlay_heatmap": "render.pictures",
    "filter_patterns": "explain.filters",
    "describe_units": "explain.units",
    "pattern_percentiles": "explain.dataset_examples",
    "concepts": "explain.concepts",
    "cam": "explain.cams",
    "gradcam": "explain.cams",
    "gradcam_plus_plus": "explain.cams",
    "layercam": "explain.cams",
    "hirescam": "explain.cams",
    "scorecam": "explain.cams",
    "eigencam": "explain.cams",
    "attribute": "explain.attribution",
    "deletion_insertion": "scores.faithfulness",
    "road_scores": "scores.faithfulness",
    "bootstrap_interval": "scores.comparisons",
    "removal_check": "scores.faithfulness",
    "paired_comparison": "scores.comparisons",
    "holm": "scores.comparisons",
    "randomization_sanity": "scores.sanity",
    "receptive_field": "models.geometry",
    "pointing_game": "scores.pointing",
    "run": "run.workflow",
    "RunConfig": "settings.config",
    "write_report": "render.report",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'visconvnets' has no attribute {name!r}")


def __dir__():
    return __all__
