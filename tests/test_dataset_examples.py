"""Dataset examples: the running top-k equals a full sort, and every example's crop lies where the unit's
receptive field says (a hand-set model whose cells read one known pixel each)."""

from __future__ import annotations

import numpy as np
import pytest


def test_the_running_top_k_equals_a_full_sort():
    from visconvnets.explain.dataset_examples import RunningTopK

    rng = np.random.default_rng(0)
    values = rng.integers(0, 20, (103, 7)).astype(np.float32)  # (images, units), many ties
    payload = rng.integers(0, 1000, (103, 7, 3))
    top = RunningTopK(units=7, count=9)
    for start in range(0, 103, 10):  # batches of 10, the last of 3
        top.update(values[start : start + 10], payload[start : start + 10])
    order = np.argsort(-values.T, axis=1, kind="stable")[:, :9]  # (units, 9), first seen first among ties
    np.testing.assert_array_equal(top.values, np.take_along_axis(values.T, order, axis=1))
    np.testing.assert_array_equal(top.payload, np.take_along_axis(payload.swapaxes(0, 1), order[..., None], axis=1))
    few = RunningTopK(units=2, count=5)
    few.update(values[:3, :2], payload[:3, :2])  # fewer images than k: all of them, sorted
    assert few.values.shape == (2, 3) and (np.diff(few.values, axis=1) <= 0).all()
    with pytest.raises(ValueError, match="count >= 1, got 0"):
        RunningTopK(3, 0)


def _pixel_reader():
    """Cell (i, j) of ``read`` is pixel (2i + 3, 2j + 3) of the input, nothing else: a 3x3/2 convolution and a
    3x3/1 one, each with only its centre tap; filter 0 reads red, filter 1 green. By hand: stride 2, centre
    offset 1 + 2 = 3, field 3 + 2 * 2 = 7 pixels."""
    import keras

    inputs = keras.Input((None, None, 3))
    first = keras.layers.Conv2D(2, 3, strides=2, use_bias=False, name="first")
    second = keras.layers.Conv2D(2, 3, use_bias=False, name="read")
    model = keras.Model(inputs, second(first(inputs)))
    kernel = np.zeros((3, 3, 3, 2), np.float32)
    kernel[1, 1, 0, 0] = kernel[1, 1, 1, 1] = 1.0  # red -> filter 0, green -> filter 1
    first.set_weights([kernel])
    passing = np.zeros((3, 3, 2, 2), np.float32)
    passing[1, 1] = np.eye(2)  # the centre tap passes each filter on
    second.set_weights([passing])
    return model


def test_the_crops_lie_where_the_receptive_field_says():
    from visconvnets.explain.dataset_examples import crop_examples, scan_units
    from visconvnets.models.geometry import layer_geometry

    model = _pixel_reader()
    geometry = layer_geometry(model, "read")
    assert (geometry.stride, geometry.offset, geometry.size) == ((2.0, 2.0), (3.0, 3.0), (7.0, 7.0))
    rng = np.random.default_rng(1)
    images = np.zeros((12, 31, 31, 3), np.float32)  # read: 13 x 13 cells, pixels 3, 5, ..., 27
    cells = rng.integers(0, 13, (12, 2, 2))  # (image, filter, row/column): where each bright pixel is read
    brightness = rng.permutation(np.arange(100, 220, 10)).astype(np.float32)  # every image's own, distinct
    for image in range(12):
        for channel in range(2):
            row, column = 2 * cells[image, channel] + 3
            images[image, row, column, channel] = brightness[image] + channel
    batches = (images[start : start + 5] for start in range(0, 12, 5))  # streamed, three batches
    found = scan_units(model, {"read": [0, 1]}, batches, count=4)["read"]
    assert found.seen == 12 and found.below is None
    for unit in range(2):
        expected = np.argsort(-brightness, kind="stable")[:4]
        np.testing.assert_array_equal(found.images[unit], expected)
        np.testing.assert_allclose(found.values[unit], brightness[expected] + unit)
        np.testing.assert_array_equal(found.cells[unit], cells[expected, unit])
        tops = 2 * cells[expected, unit]  # centre 2j + 3, field 7: from 2j to 2j + 7
        np.testing.assert_array_equal(found.boxes[unit], np.concatenate([tops, tops + 7], axis=1))
    numbers = sorted(set(found.images.reshape(-1)))
    crops = crop_examples(found, images[numbers], numbers, size=7)  # crops at the field's own size
    assert crops.shape == (2, 4, 7, 7, 3)
    for unit in range(2):
        for crop in crops[unit]:
            peak = np.unravel_index(crop[..., unit].argmax(), (7, 7))
            assert peak == (3, 3) and crop[3, 3, unit] >= 100  # the bright pixel, at the crop's centre


def test_a_field_that_leaves_the_image_is_moved_inside_it(small_model):
    from visconvnets.models.geometry import field_boxes, layer_geometry

    geometry = layer_geometry(small_model, "conv_c")  # cell j at 4j + 6 (conftest), field 3 + 4 + 2 + 8 = 17
    assert geometry.size == (17.0, 17.0)
    boxes = field_boxes(np.array([[0, 0], [2, 1]]), geometry, 24)
    np.testing.assert_array_equal(boxes, [[0, 0, 17, 17], [6, 2, 23, 19]])  # centre 14: 6..23; centre 10: 2..19
    whole = field_boxes(np.array([[1, 1]]), layer_geometry(small_model, "conv_c"), 12)  # image smaller than field
    np.testing.assert_array_equal(whole, [[0, 0, 12, 12]])
    after_pooling = field_boxes(np.zeros((2, 3, 2), int), None, 24)  # a 1 x 1 map after global pooling
    assert after_pooling.shape == (2, 3, 4) and (after_pooling == [0, 0, 24, 24]).all()


def test_a_one_by_three_convolution_widens_only_the_columns_of_the_field():
    """Inception's 1 x 7 / 7 x 1 branches: the field differs per axis, the centre does not (these layers had a
    receptive field before fields had sizes, and must keep it). By hand: 3 x 3/2 gives a 3 x 3 field at stride 2
    centred at 2j + 1; a 'same' 1 x 3 convolution adds 2 * 2 columns: 3 rows x 7 columns, the same centre."""
    import keras

    from visconvnets.models.geometry import field_boxes, layer_geometry, receptive_field

    inputs = keras.Input((31, 31, 3))
    first = keras.layers.Conv2D(2, 3, strides=2, name="square")(inputs)
    wide = keras.layers.Conv2D(2, (1, 3), padding="same", name="wide")(first)
    geometry = layer_geometry(keras.Model(inputs, wide), "wide")
    assert (geometry.stride, geometry.offset, geometry.size) == ((2.0, 2.0), (1.0, 1.0), (3.0, 7.0))
    assert receptive_field(keras.Model(inputs, wide), "wide") == (2.0, 1.0)  # one centre for both axes
    boxes = field_boxes(np.array([[5, 5], [0, 14]]), geometry, 31)
    np.testing.assert_array_equal(boxes, [[10, 8, 13, 15], [0, 24, 3, 31]])  # centre 11: rows 10-12, columns 8-14
