"""``attribute``: one entry point for every map at the input's resolution, pixel methods and CAMs alike.

A pixel method (``saliency``, ``smoothgrad``, ``integrated_gradients``, ``occlusion``, ``rise``,
``guided_backprop``) gives raw signed attributions (n, H, W, 3), reduced over the colour channels and scaled
to [0, 1]; a CAM method or baseline (``gradcam``, ``random``...) gives its cells, upsampled to the input with
each cell at its receptive-field centre. ``cam`` accepts the pixel methods' names too: one registry.
"""

from __future__ import annotations

import numpy as np

from ..models.geometry import receptive_field, upsample_heatmaps
from .cams import cam, default_cam_layer
from .methods import find_method
from .pixels import REDUCTIONS
from .pixels.base import checked_images, explained_classes, reduce_attributions

OWN_REDUCTION = "own"  # ``attribute``'s default: each method's own channel reduction (``MapMethod.reduce``)


def attribute(model, images, method: str = "integrated_gradients", class_index=None, reduce=OWN_REDUCTION, **options):
    """Maps of ``images`` at their own resolution, for the class score before the softmax (RISE: the
    probability, as in its paper).

    Args:
        model: A Keras image classifier, flat or nesting its backbone, softmax or logits output.
        images: (n, H, W, 3) in the model's input scale (raw RGB 0-255 for this project's models).
        method: Any name of ``methods.MAP_METHODS``: a pixel method, a CAM or a baseline.
        class_index: None (each image's predicted class), an int, or one int per image.
        reduce: ``"own"`` (the default): the method's own reduction over the colour channels, as ``cam`` draws
            it (saliency ``abs_max``, occlusion and RISE ``sum``, the rest ``abs_sum``), so that the same
            method gives the same map through either entry point; ``abs_sum``, ``abs_max`` or ``sum`` to choose
            one (then each map / its peak); None: the raw signed attributions (n, H, W, 3) in the input's units
            (pixel methods only).
        **options: The method's own (``steps``, ``baseline``, ``samples``, ``sigma``, ``patch``, ``stride``,
            ``masks``, ``seed``...; for a CAM, ``layer_name`` and ``seed``).

    Returns:
        (n, H, W) float32 in [0, 1], or (n, H, W, 3) float32 with ``reduce=None``.

    Raises:
        ValueError: an unknown method, reduction or option, images of the wrong shape, a bad option value.
    """
    images = checked_images(model, images)
    if reduce is not None and reduce not in (OWN_REDUCTION, *REDUCTIONS):
        raise ValueError(f"reduce must be one of {OWN_REDUCTION}, {', '.join(REDUCTIONS)} or None, got {reduce!r}")
    chosen = find_method(method)
    allowed = chosen.options if chosen.pixels else ("layer_name", "seed")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{method} takes no option {unknown[0]!r}; its options: {', '.join(allowed) or 'none'}")
    if chosen.pixels:
        raw = chosen.raw(model, images, explained_classes(model, images, class_index), **options)
        if reduce is None:
            return raw
        return reduce_attributions(raw, chosen.reduce if reduce == OWN_REDUCTION else reduce)
    if reduce is None:
        raise ValueError(f"{method} is a class activation map: it has no raw per-pixel attributions (give reduce)")
    layer = options.get("layer_name") or default_cam_layer(model)
    cells = cam(model, images, method, class_index, layer, options.get("seed", 0))
    upsampled = upsample_heatmaps(cells, images.shape[1:3], receptive_field(model, layer), images.shape[1])
    return np.clip(upsampled, 0.0, 1.0)
