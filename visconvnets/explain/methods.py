"""The one registry of map methods: the class activation maps (``cams``), the pixel attributions (``pixels``)
and the baselines a method must beat, by name. ``cam()``, ``attribute()``, ``--cam-method``, the map scores,
the randomisation check and the epoch callback all read it; importing ``visconvnets.explain`` fills it.

Also what every method shares: the class-index check and the scaling of maps to [0, 1].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from ..settings.names import CAM_METHOD_NAMES


@dataclasses.dataclass(frozen=True)
class MapMethod:
    """A registered method: ``compute(cam_pass) -> (n, h, w)`` float32 maps in [0, 1].

    A CAM's maps are at its layer's cells (h, w); a pixel method's at the input's resolution (H, W), made from
    the pass's model, images, classes and seed (it needs none of the layer's activations).
    """

    name: str
    compute: Callable
    baseline: bool = False  # a reference a method must beat (random, centre, sobel), not an explanation
    # the maps before ReLU and scaling, in units shared by every class of one image (gradient methods: logit
    # units), so two classes' maps can be drawn on one scale; None where there are no such units
    unscaled: Callable | None = None
    # pixel methods only: raw(model, images, classes, **options) -> (n, H, W, 3) signed attributions
    raw: Callable | None = None
    reduce: str | None = None  # pixel methods: the channel reduction of their paper's pictures
    options: tuple[str, ...] = ()  # pixel methods: the keyword options ``raw`` takes

    @property
    def pixels(self) -> bool:
        """Whether the maps are at the input's resolution (a pixel attribution), not at a layer's cells."""
        return self.raw is not None

    def source(self, layer_name: str) -> str:
        """Where its maps come from, for titles: ``at mixed7`` (a CAM), ``at the input's pixels``."""
        return "at the input's pixels" if self.pixels else f"at {layer_name}"


MAP_METHODS: dict[str, MapMethod] = {}


def register_method(method: MapMethod) -> MapMethod:
    """Add ``method`` under its name (a second method of one name is a mistake, not an override). Its name must be
    in ``settings.names.CAM_METHOD_NAMES``, the one list ``--cam-method`` and the settings' checks read."""
    if method.name not in CAM_METHOD_NAMES:
        raise ValueError(
            f"map method {method.name!r} is not in settings.names.CAM_METHOD_NAMES: add it there, so that "
            "--cam-method, --sanity-methods and the settings' checks know it"
        )
    if method.name in MAP_METHODS:
        raise ValueError(f"a map method named {method.name!r} is registered already")
    MAP_METHODS[method.name] = method
    return method


def find_method(name: str | MapMethod) -> MapMethod:
    """The registered method ``name`` (a method already found is returned as it is, so a caller resolves a name
    once and passes the method on); a ValueError naming every choice otherwise."""
    if isinstance(name, MapMethod):
        return name
    if name not in MAP_METHODS:
        raise ValueError(f"unknown map method {name!r}; choose from {', '.join(sorted(MAP_METHODS))}")
    return MAP_METHODS[name]


def ordered_methods() -> list[MapMethod]:
    """Every registered method in the order tables and figures show them: the CAMs, the pixel methods, then
    the baselines (each group in the order registered)."""
    methods = list(MAP_METHODS.values())
    return sorted(methods, key=lambda method: (method.baseline, method.pixels))


def class_indices(class_index, count: int, classes: int) -> np.ndarray | None:
    """(n,) int for an int broadcast or one int per image, checked against ``classes``; None stays None
    (each image's predicted class)."""
    if class_index is None:
        return None
    indices = np.asarray(class_index, dtype=np.int64)
    if indices.ndim == 0:
        indices = np.broadcast_to(indices, (count,))
    if indices.shape != (count,):
        raise ValueError(f"class_index must be None, an int or one int per image ({count}), got {len(indices)} values")
    if indices.min() < 0 or indices.max() >= classes:
        raise ValueError(f"class_index must be in [0, {classes - 1}], got {indices.tolist()}")
    return indices


def normalise_maps(weighted: np.ndarray) -> np.ndarray:
    """ReLU, then each map divided by its maximum; an all-negative (or zero) map stays all zeros.

    Args:
        weighted: (n, h, w) channel-weighted sums (or any per-cell values).

    Returns:
        (n, h, w) float32 in [0, 1], never NaN.
    """
    positive = np.maximum(weighted, 0.0)
    peak = positive.max(axis=(1, 2), keepdims=True)
    return np.divide(positive, peak, out=np.zeros_like(positive), where=peak > 0).astype(np.float32)
