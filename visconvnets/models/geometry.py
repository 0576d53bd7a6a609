"""Where a layer's output cells sit on the input: receptive-field centres from strides and padding, and maps
of cells upsampled to pixels with every cell at its centre."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from . import layers as layer_tools
from .forward import walk
from .per_model import per_model_cache


class NoSpatialGridError(ValueError):
    """A layer whose cells come after global pooling or flattening: each sees the whole input."""


@dataclasses.dataclass(frozen=True)
class Geometry:
    """Cell j of a feature map is centred at input pixel ``stride * j + offset`` (per axis) and sees ``size``
    input pixels around it (its receptive field, padding included; per axis: a 1 x 7 convolution widens only
    the columns')."""

    stride: tuple[float, float]
    offset: tuple[float, float]
    size: tuple[float, float] = (1.0, 1.0)


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
        size = np.max([item.size for item in distinct], axis=0)  # the widest branch's field
        stride = distinct.pop().stride
        incoming = Geometry(stride, (float(offsets[0]), float(offsets[1])), (float(size[0]), float(size[1])))
    if not isinstance(incoming, Geometry):
        return incoming
    parameters = _spatial_parameters(layer)
    if parameters is None:
        return incoming
    kernel, strides, padding = parameters
    if kernel == "flat":
        return "flat"
    if kernel == "pad":
        offset = tuple(o - s * p for o, s, p in zip(incoming.offset, incoming.stride, strides))
        return Geometry(incoming.stride, offset, incoming.size)
    input_size = sizes[layer.name]
    offsets = []
    for axis in range(2):
        pad_before = 0
        if padding == "same":
            remainder = input_size[axis] % strides[axis]
            pad_total = max(kernel[axis] - (strides[axis] if remainder == 0 else remainder), 0)
            pad_before = pad_total // 2
        offsets.append(incoming.offset[axis] + incoming.stride[axis] * ((kernel[axis] - 1) / 2 - pad_before))
    size = tuple(extent + stride * (side - 1) for extent, stride, side in zip(incoming.size, incoming.stride, kernel))
    return Geometry(tuple(s * k for s, k in zip(incoming.stride, strides)), tuple(offsets), size)


def receptive_field(model, layer_name: str) -> tuple[float, float]:
    """(stride, offset) such that cell j of ``layer_name``'s output is centred at input pixel
    ``stride * j + offset``, derived from the strides, kernel sizes and padding on the way.

    InceptionV3: ``mixed7`` -> (16, 21), ``mixed10`` -> (32, 37).

    Raises:
        ValueError: unknown layer, a layer after flattening, or different geometry per axis.
    """
    geometry = layer_geometry(model, layer_name)
    return geometry.stride[0], geometry.offset[0]


@per_model_cache  # one walk per model and layer, however often the pictures ask
def layer_geometry(model, layer_name: str) -> Geometry:
    """Where ``layer_name``'s cells sit on the input and how much of it each sees (``Geometry``), the same
    along both axes.

    Raises:
        ValueError: unknown layer, a layer after flattening, or different geometry per axis.
    """
    return _walk_geometry(model, layer_name)


def _walk_geometry(model, layer_name: str) -> Geometry:
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
        raise NoSpatialGridError(
            f"layer {layer_name!r} has no spatial output grid (it comes after pooling or flattening)"
        )
    if geometry.stride[0] != geometry.stride[1] or geometry.offset[0] != geometry.offset[1]:
        raise ValueError(f"layer {layer_name!r} has different geometry per axis: {geometry}")
    return geometry


def field_geometry(model, layer_name: str) -> Geometry | None:
    """``layer_geometry``, or None for a layer after global pooling (a squeeze-and-excitation block's 1 x 1
    convolutions in EfficientNet), whose one cell sees the whole input."""
    try:
        return layer_geometry(model, layer_name)
    except NoSpatialGridError:
        return None


def field_boxes(cells: np.ndarray, geometry: Geometry | None, image_size: int) -> np.ndarray:
    """(..., 4) int boxes (top, left, bottom, right), bottom/right exclusive, of the receptive fields of
    ``cells`` (..., 2) (row, column) on an ``image_size`` square input: the field's sides (at most the image's)
    centred on the cell's centre ``stride * j + offset``, moved inside the image where it would leave it (so
    every box is whole). ``geometry`` None (a cell after global pooling): the whole image."""
    if geometry is None:
        return np.broadcast_to(np.array([0, 0, image_size, image_size]), (*np.shape(cells)[:-1], 4)).copy()
    sides = np.minimum(np.round(geometry.size), image_size).astype(int)  # (2,) rows, columns
    centres = geometry.stride[0] * np.asarray(cells, np.float64) + geometry.offset[0]  # (..., 2) pixels
    start = np.clip(np.floor(centres - (sides - 1) / 2), 0, image_size - sides).astype(int)
    return np.concatenate([start, start + sides], axis=-1)


def _interpolation_matrix(target: int, cells: int, centre_of_cell) -> np.ndarray:
    """(target, cells) linear-interpolation weights: row y mixes the two cells whose centres
    (``centre_of_cell(j)`` in target pixels) surround pixel y; constant beyond the outer centres."""
    centres = centre_of_cell(np.arange(cells, dtype=np.float64))
    position = np.interp(np.arange(target, dtype=np.float64), centres, np.arange(cells, dtype=np.float64))
    lower = np.floor(position).astype(int)
    upper = np.minimum(lower + 1, cells - 1)
    fraction = position - lower
    matrix = np.zeros((target, cells))
    matrix[np.arange(target), lower] += 1 - fraction
    matrix[np.arange(target), upper] += fraction
    return matrix


def upsample_heatmaps(maps: np.ndarray, output_shape: tuple[int, int], geometry=None, input_size=None) -> np.ndarray:
    """Upsample (n, h, w) maps to (n, H, W) = ``output_shape``, bilinearly between cell centres.

    Without ``geometry`` the cells tile the output evenly (a plain resize). With ``geometry=(stride,
    offset)`` cell j is centred at model-input pixel ``stride * j + offset``, scaled from the model's
    ``input_size`` (default: the output size) to the output resolution. A map at the model input's own
    resolution (a pixel attribution) has no cells to place: its geometry is ignored (a plain resize).
    """
    maps = np.asarray(maps, np.float64)
    height, width = maps.shape[1:]
    rows, columns = output_shape
    if geometry is not None and (height, width) == ((input_size, input_size) if input_size else (rows, columns)):
        geometry = None  # one value per input pixel already
    if geometry is None and (height, width) == (rows, columns):
        return maps.astype(np.float32)  # already at the output's resolution: nothing to interpolate
    if geometry is None:
        row_matrix = _interpolation_matrix(rows, height, lambda j: (j + 0.5) * rows / height - 0.5)
        column_matrix = _interpolation_matrix(columns, width, lambda j: (j + 0.5) * columns / width - 0.5)
    else:
        stride, offset = float(geometry[0]), float(geometry[1])
        size_rows, size_columns = (input_size, input_size) if input_size else (rows, columns)
        row_matrix = _interpolation_matrix(rows, height, lambda j: (stride * j + offset + 0.5) * rows / size_rows - 0.5)
        column_matrix = _interpolation_matrix(
            columns, width, lambda j: (stride * j + offset + 0.5) * columns / size_columns - 0.5
        )
    # two matrix products, (H, h) @ (n, h, w) @ (w, W): one three-operand einsum loops over all of H h w W
    return (row_matrix @ maps @ column_matrix.T).astype(np.float32)


def upsample_heatmap(heatmap: np.ndarray, output_shape: tuple[int, int], geometry=None, input_size=None) -> np.ndarray:
    """One (h, w) map to ``output_shape`` (H, W); see ``upsample_heatmaps``."""
    return upsample_heatmaps(np.asarray(heatmap)[None], output_shape, geometry, input_size)[0]
