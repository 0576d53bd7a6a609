"""Class activation maps: one small module per method, shared gradients in ``base``."""

from .base import CAM_METHODS, class_activation_maps, contrasting_maps, default_cam_layer
from .gradcam import gradcam
from .gradcam_plus_plus import gradcam_plus_plus

__all__ = [
    "CAM_METHODS",
    "class_activation_maps",
    "contrasting_maps",
    "default_cam_layer",
    "gradcam",
    "gradcam_plus_plus",
]
