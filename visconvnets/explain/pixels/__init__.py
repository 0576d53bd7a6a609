"""Pixel attributions: one small module per method (saliency, SmoothGrad, integrated gradients, occlusion,
RISE, guided backpropagation), shared machinery and the registry in ``base``. ``explain.attribution.attribute``
runs any of them (and the CAMs) at the input's resolution."""

from . import guided_backprop, integrated_gradients, occlusion, rise, saliency, smoothgrad  # register each
from .base import PIXEL_METHODS, REDUCTIONS, PixelMethod, reduce_attributions, register_pixel_method
from .rise import rise_masks

__all__ = [
    "PIXEL_METHODS",
    "REDUCTIONS",
    "PixelMethod",
    "guided_backprop",
    "integrated_gradients",
    "occlusion",
    "reduce_attributions",
    "register_pixel_method",
    "rise",
    "rise_masks",
    "saliency",
    "smoothgrad",
]
