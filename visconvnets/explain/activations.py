"""What every layer sees: layer outputs from one forward pass (arrays only; ``rendering`` draws them)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..models import layers as layer_tools
from ..models.forward import forward


def layer_activations(model, images, layer_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Outputs of the named layers for a batch of images, from ONE forward pass.

    Args:
        model: Flat or nesting a backbone.
        images: (batch, height, width, 3) in the model's input scale (raw 0-255 RGB for this project's models).
        layer_names: Names, globs or layer types (see ``layers.select_layers``); None means every
            Conv2D and Activation layer with a 4-D output.

    Returns:
        {name: (batch, h, w, channels) float32}, in depth order.
    """
    names = layer_tools.select_layers(model, layer_names)
    _, recorded = forward(model, np.asarray(images, dtype="float32"), taps=names, stop_after_taps=True)
    return {name: np.asarray(recorded[name]) for name in names}
