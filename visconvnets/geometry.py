"""Where a layer's output cells sit on the input: receptive-field centres from strides and padding."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from . import layers as layer_tools
from .forward import walk


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Cell j of a feature map is centred at input pixel ``stride * j + offset`` (per axis)."""

    stride: tuple[float, float]
    offset: tuple[float, float]


def _spatial_parameters(layer):
    """(kernel, strides, padding) of a layer that moves the grid, or None for one that keeps it."""
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)):
        dilation = tuple(layer.dilation_rate)
        kernel = tuple((size - 1) * rate + 1 for size, rate in zip(layer.kernel_size, dilation))
        return kernel, tuple(layer.strides), layer.padding
    if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        return tuple(layer.pool_size), tuple(layer.strides), layer.padding
    if isinstance(layer, keras.layers.ZeroPadding2D):
        (top, _), (left, _) = layer.padding
        return "pad", (top, left), None
    if isinstance(
        layer,
        (
            keras.layers.Flatten,
            keras.layers.Dense,
            keras.layers.GlobalAveragePooling2D,
            keras.layers.GlobalMaxPooling2D,
            keras.layers.Reshape,
        ),
    ):
        return "flat", None, None
    return None


def _transfer(layer, incoming, sizes: dict) -> Geometry | str:
    """Geometry of a layer's output from its input's (InceptionV3 uses 'same' only at stride 1)."""
    if isinstance(incoming, list):  # Concatenate, Add, Multiply...: branches must share the stride
        distinct = {item for item in incoming if isinstance(item, Geometry)}  # a globally pooled branch has none
        if not distinct:
            return "flat"
        if len({item.stride for item in distinct}) != 1:
            raise ValueError(f"layer {layer.name!r} merges feature maps with different strides {distinct}")
        # 'same' padding at stride 2 on an even size shifts a branch by a few pixels (Xception's
        # residuals: 3 vs 11 px at stride 16): the merged cell's centre is taken as their mean.
        offsets = np.mean([item.offset for item in distinct], axis=0)
        incoming = Geometry(distinct.pop().stride, (float(offsets[0]), float(offsets[1])))
    if not isinstance(incoming, Geometry):
        return incoming
    parameters = _spatial_parameters(layer)
    if parameters is None:
        return incoming
    kernel, strides, padding = parameters
    if kernel == "flat":
        return "flat"
    if kernel == "pad":
        return Geometry(incoming.stride, tuple(o - s * p for o, s, p in zip(incoming.offset, incoming.stride, strides)))
    input_size = sizes[layer.name]
    offsets = []
    for axis in range(2):
        pad_before = 0
        if padding == "same":
            remainder = input_size[axis] % strides[axis]
            pad_total = max(kernel[axis] - (strides[axis] if remainder == 0 else remainder), 0)
            pad_before = pad_total // 2
        offsets.append(incoming.offset[axis] + incoming.stride[axis] * ((kernel[axis] - 1) / 2 - pad_before))
    return Geometry(tuple(s * k for s, k in zip(incoming.stride, strides)), tuple(offsets))


@layer_tools.per_model_cache  # one walk per model and layer, however often the pictures ask
def receptive_field(model, layer_name: str) -> tuple[float, float]:
    """(stride, offset) such that cell j of ``layer_name``'s output is centred at input pixel
    ``stride * j + offset``, derived from the strides, kernel sizes and padding on the way.

    InceptionV3: ``mixed7`` -> (16, 21), ``mixed10`` -> (32, 37).

    Raises:
        ValueError: unknown layer, a layer after flattening, or different geometry per axis.
    """
    return _walk_geometry(model, layer_name)


def _walk_geometry(model, layer_name: str) -> tuple[float, float]:
    target = layer_tools.find_layer(model, layer_name)
    sizes = {
        layer.name: tuple(layer.input.shape[1:3])
        for layer in layer_tools.iter_layers(model)
        if _spatial_parameters(layer) not in (None,) and hasattr(layer, "input") and len(layer.input.shape) == 4
    }
    found: dict = {}

    def step(layer, *args, **kwargs):
        result = _transfer(layer, args[0], sizes)
        if layer is target:
            found["geometry"] = result
        return result

    walk(model, Geometry((1.0, 1.0), (0.0, 0.0)), step)
    geometry = found.get("geometry")
    if not isinstance(geometry, Geometry):
        raise ValueError(f"layer {layer_name!r} has no spatial output grid (it comes after pooling or flattening)")
    if geometry.stride[0] != geometry.stride[1] or geometry.offset[0] != geometry.offset[1]:
        raise ValueError(f"layer {layer_name!r} has different geometry per axis: {geometry}")
    return float(geometry.stride[0]), float(geometry.offset[0])
