"""Class activation maps: one small module per method, the shared pass in ``base``.

``cam(model, images, method=...)`` runs any registered method (``explain.methods.MAP_METHODS``: these, the
pixel attributions and the baselines ``random``, ``centre``, ``sobel`` a method must beat).
"""

from . import baselines  # registers random, centre, sobel
from .base import (
    CamPass,
    cam,
    cam_pass,
    class_activation_maps,
    contrast_passes,
    contrasting_maps,
    default_cam_layer,
    has_shared_scale,
    scale_together,
)
from .eigencam import eigencam
from .gradcam import gradcam
from .gradcam_plus_plus import gradcam_plus_plus
from .hirescam import hirescam
from .layercam import layercam
from .scorecam import TOP_CHANNELS, scorecam
from .traced import TRACE_FROM_PASSES, TracedPasses, drop_traced_passes, trace_passes, traced_passes

__all__ = [
    "TOP_CHANNELS",
    "TRACE_FROM_PASSES",
    "TracedPasses",
    "CamPass",
    "baselines",
    "cam",
    "cam_pass",
    "class_activation_maps",
    "contrast_passes",
    "contrasting_maps",
    "default_cam_layer",
    "drop_traced_passes",
    "eigencam",
    "gradcam",
    "gradcam_plus_plus",
    "has_shared_scale",
    "hirescam",
    "layercam",
    "scale_together",
    "scorecam",
    "trace_passes",
    "traced_passes",
]
