"""Pixel attributions: one small module per method (saliency, SmoothGrad, integrated gradients, occlusion,
RISE, guided backpropagation), shared machinery in ``base``, each registered in ``explain.methods`` beside
the CAMs. ``explain.attribution.attribute`` runs any of them (and the CAMs) at the input's resolution."""

from . import guided_backprop, integrated_gradients, occlusion, rise, saliency, smoothgrad  # register each
from .base import REDUCTIONS, reduce_attributions, reduce_channels, register_pixel_method
from .rise import rise_masks

__all__ = [
    "REDUCTIONS",
    "guided_backprop",
    "integrated_gradients",
    "occlusion",
    "reduce_attributions",
    "reduce_channels",
    "register_pixel_method",
    "rise",
    "rise_masks",
    "saliency",
    "smoothgrad",
]
