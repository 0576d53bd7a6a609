"""Activations, grids, filter patterns, receptive fields, Grad-CAM and overlays."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from visconvnets.explain.activations import layer_activations
from visconvnets.explain.cams import class_activation_maps, gradcam, gradcam_plus_plus
from visconvnets.explain.filters import ascend, filter_activations, filter_patterns
from visconvnets.models.geometry import receptive_field, upsample_heatmap
from visconvnets.models.layer_choice import choose_cam_layer
from visconvnets.models.layers import conv_layers_by_position, select_layers
from visconvnets.render import pictures as drawn_pictures
from visconvnets.render.pictures import activation_grid, dead_channels
from visconvnets.run.pictures import save_activation_grids

from .conftest import random_images

# --- activations ----------------------------------------------------------------------------


def test_activations_equal_a_direct_sub_model(inception_flat):
    import keras

    images = random_images(2, 75)
    every = select_layers(inception_flat, None)  # Keras numbers auto-names per process: pick by position
    names = [every[0], every[11], every[80], every[-1]]
    got = layer_activations(inception_flat, images, names)
    assert list(got) == names
    direct = keras.Model(inception_flat.inputs, [inception_flat.get_layer(name).output for name in names])(images)
    for name, expected in zip(names, direct):
        np.testing.assert_allclose(got[name], np.asarray(expected), rtol=1e-5, atol=1e-5)


def test_default_layers_are_every_conv_and_activation(inception_flat):
    names = select_layers(inception_flat, None)
    assert len(names) == 188
    assert sum(name.startswith("conv2d") for name in names) == 94
    assert [type(inception_flat.get_layer(name)).__name__ for name in names[:3]] == [
        "Conv2D",
        "Activation",
        "Conv2D",
    ]  # depth order
    assert select_layers(inception_flat, ["mixed?"]) == [f"mixed{index}" for index in range(10)]
    assert [
        type(inception_flat.get_layer(name)).__name__ for name in select_layers(inception_flat, ["MaxPooling2D"])
    ] == ["MaxPooling2D"] * 4


def test_nested_backbone_layers_are_reachable(inception_flat):
    import keras

    backbone = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(75, 75, 3))
    nested = keras.Sequential(
        [
            keras.Input((75, 75, 3)),
            keras.layers.Rescaling(1 / 127.5, offset=-1),
            backbone,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    images = random_images(2, 75, seed=1)
    got = layer_activations(nested, images, ["mixed7", "mixed2"])
    inner = keras.Model(backbone.inputs, [backbone.get_layer("mixed7").output, backbone.get_layer("mixed2").output])
    expected = inner(images / 127.5 - 1)
    np.testing.assert_allclose(got["mixed7"], np.asarray(expected[0]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got["mixed2"], np.asarray(expected[1]), rtol=1e-4, atol=1e-4)


def test_unknown_layer_lists_nearest_names(inception_flat):
    with pytest.raises(ValueError, match="unknown layer, glob or type 'mixed77'.*nearest names: mixed7"):
        layer_activations(inception_flat, random_images(1, 75), ["mixed77"])
    with pytest.raises(ValueError, match="'predictions' has output shape .* cannot be shown as a grid"):
        select_layers(inception_flat, ["predictions"])


# --- grids ----------------------------------------------------------------------------------


def test_grid_size_shows_every_channel():
    activation = np.random.default_rng(0).normal(size=(37, 37, 20)).astype("float32")
    grid = activation_grid(activation, images_per_row=16)
    assert grid.shape == (2 * 38 - 1, 16 * 38 - 1, 3) and grid.dtype == np.uint8
    last_tile = grid[38 : 38 + 37, 3 * 38 : 3 * 38 + 37]  # channel 19: the 4th tile of row 2
    assert last_tile.std() > 10  # a real, varied tile, not a blank
    blank_tile = grid[38 : 38 + 37, 4 * 38 : 4 * 38 + 37]
    assert (blank_tile == 255).all()  # padding after the last channel
    assert (grid[37, :] == 255).all() and (grid[:, 37] == 255).all()  # one-pixel separators


def test_dead_channel_is_flat_marked_and_never_nan():
    activation = np.random.default_rng(1).normal(size=(9, 9, 4)).astype("float32")
    activation[..., 2] = 0.0  # a dead ReLU channel
    with np.errstate(all="raise"):  # any 0/0 would raise here
        grid = activation_grid(activation, images_per_row=4, colormap="viridis")
    assert dead_channels(activation) == 1
    tile = grid[:, 2 * 10 : 2 * 10 + 9]
    cross = np.zeros((9, 9), bool)
    cross[np.arange(9), np.arange(9)] = cross[8 - np.arange(9), np.arange(9)] = True
    assert (tile[cross] == (220, 30, 30)).all()
    assert (tile[~cross] == 40).all()  # flat DEAD_TILE_VALUE grey


def test_small_channels_are_repeated_to_eight_pixel_tiles():
    activation = np.random.default_rng(2).normal(size=(2, 3, 4)).astype("float32")  # 2x3 channels
    grid = activation_grid(activation, images_per_row=2, colormap="gray")
    assert drawn_pictures.tile_factor(2, 3) == 4 and grid.shape == (2 * (8 + 1) - 1, 2 * (12 + 1) - 1, 3)
    assert drawn_pictures.tile_area(2, 3, 4, 2) == grid.shape[:2]
    reference = activation_grid(activation, images_per_row=2, colormap="gray", minimum_tile=1)  # (3, 7, 3)
    first = grid[:8, :12, 0]  # channel 0 drawn 4x larger: each value a 4x4 block
    assert (first == np.kron(reference[:2, :3, 0], np.ones((4, 4), np.uint8))).all()
    assert (grid[8, :, 0] == 255).all()  # the separator row stays one pixel


def test_save_activation_grids_writes_every_layer_in_depth_order(inception_flat, tmp_path):
    first_conv, first_activation, second_activation = (
        select_layers(inception_flat, ["Conv2D"])[0],
        *select_layers(inception_flat, ["Activation"])[:2],
    )
    paths = save_activation_grids(
        inception_flat, random_images(1, 75)[0], tmp_path, [first_conv, "mixed0", "Activation"]
    )
    assert len(paths) == 96  # first conv + mixed0 + 94 activations
    assert [path.name for path in paths[:3]] == [
        f"000_{first_conv}.jpg",
        f"001_{first_activation}.jpg",
        f"002_{second_activation}.jpg",
    ]
    assert "mixed0" in paths[[path.name.endswith("mixed0.jpg") for path in paths].index(True)].name
    with Image.open(paths[0]) as picture:
        picture.load()
        channels, side = 32, 37  # conv2d at 75 px: (37, 37, 32) -> 2 rows of 16
        rows = channels // 16
        assert picture.size == (max(16 * (side + 1) - 1, 360), 34 + rows * (side + 1) - 1)
    first = json.loads((tmp_path / "index.json").read_text())[0]
    assert first["file"] == paths[0].name and first["shape"] == [side, side, channels]
    assert first["picture"] == [34 + rows * (side + 1) - 1, max(16 * (side + 1) - 1, 360)]
    assert first["tiles"] == [34, rows * (side + 1) - 1, 16 * (side + 1) - 1]  # top, height, width of the tiles
    for path in paths:
        with Image.open(path) as picture:
            picture.load()


# --- filter patterns ------------------------------------------------------------------------


def test_filter_patterns_raise_their_own_filter(inception_flat):
    layer = conv_layers_by_position(inception_flat, (5,))[0]
    indices = list(range(6))
    patterns = ascend(inception_flat, layer, indices, size=75, seed=0)  # steps capped by VISCONVNETS_MAX_STEPS
    assert patterns.shape == (6, 75, 75, 3)
    own = filter_activations(inception_flat, layer, patterns, indices)
    random_inputs = 128 + np.random.default_rng(5).normal(0, 20, patterns.shape).astype("float32")
    baseline = filter_activations(inception_flat, layer, random_inputs, indices)
    assert own.mean() > 2 * baseline.mean() + 1e-3
    cross = np.stack([filter_activations(inception_flat, layer, patterns, [j] * 6) for j in indices])  # cross[j, i]
    others = (cross.sum(axis=0) - np.diag(cross)) / 5
    assert np.diag(cross).mean() > others.mean()
    pictures = filter_patterns(inception_flat, layer, [0, 1], size=75, steps=4)
    assert pictures.shape == (2, 75, 75, 3) and pictures.dtype == np.uint8


def test_filter_errors(inception_flat):
    first_conv = conv_layers_by_position(inception_flat, (1,))[0]
    with pytest.raises(
        ValueError, match=f"filter index 32 is out of range for layer '{first_conv}', which has 32 filters"
    ):
        ascend(inception_flat, first_conv, [0, 32], size=75)
    with pytest.raises(ValueError, match="position 95 is out of range"):
        conv_layers_by_position(inception_flat, (95,))


# --- receptive fields -----------------------------------------------------------------------


def test_receptive_field_of_inception(inception_flat):
    assert receptive_field(inception_flat, "mixed7") == (16.0, 21.0)
    assert receptive_field(inception_flat, "mixed10") == (32.0, 37.0)
    with pytest.raises(ValueError, match="no spatial output grid"):
        receptive_field(inception_flat, "head_dense")


def _gradient_centre(model, layer_name: str, size: int, cell: int, samples: int = 4) -> tuple[float, float]:
    """Centroid of |d(sum of channels at cell (cell, cell)) / d input|, averaged over random inputs."""
    import tensorflow as tf

    from visconvnets.models.forward import forward

    images = tf.constant(random_images(samples, size, seed=7))
    with tf.GradientTape() as tape:
        tape.watch(images)
        _, recorded = forward(model, images, taps=[layer_name], stop_after_taps=True)
        target = tf.reduce_sum(recorded[layer_name][:, cell, cell, :])
    magnitude = np.abs(tape.gradient(target, images).numpy()).sum(axis=(0, 3))  # (size, size)
    rows, columns = magnitude.sum(axis=1), magnitude.sum(axis=0)
    positions = np.arange(size)
    return float((rows * positions).sum() / rows.sum()), float((columns * positions).sum() / columns.sum())


def test_receptive_field_matches_gradient_centre_small_model(small_model):
    stride, offset = receptive_field(small_model, "conv_c")
    assert (stride, offset) == (4.0, 6.0)
    for cell in (1, 2):  # cell 0's field reaches past the image edge, where padding eats the gradient
        row, column = _gradient_centre(small_model, "conv_c", 24, cell)
        assert row == pytest.approx(stride * cell + offset, abs=0.75)
        assert column == pytest.approx(stride * cell + offset, abs=0.75)


def test_receptive_field_matches_gradient_centre_inception(inception_flat):
    stride, offset = receptive_field(inception_flat, "mixed0")
    assert (stride, offset) == (8.0, 13.0)
    row, column = _gradient_centre(inception_flat, "mixed0", 75, 3)  # cell 3 of 7: centred at 37
    assert row == pytest.approx(stride * 3 + offset, abs=2.0)
    assert column == pytest.approx(stride * 3 + offset, abs=2.0)


# --- Grad-CAM -------------------------------------------------------------------------------


def _hand_gradcam(model, images, class_index: int) -> np.ndarray:
    """Grad-CAM by hand for conv_c -> relu_c -> GAP -> Dense: d logit_c / d A = W[:, c] / (h w)."""
    import keras

    features = np.asarray(keras.Model(model.inputs, model.get_layer("relu_c").output)(images))  # (n, h, w, k)
    kernel = model.get_layer("scores").get_weights()[0]  # (k, classes)
    height, width = features.shape[1:3]
    weights = kernel[:, class_index] / (height * width)  # alpha_k, the same for every image
    cam = np.maximum(np.einsum("nhwk,k->nhw", features, weights), 0)
    peak = cam.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0)


def test_gradcam_equals_hand_computation(small_model):
    images = random_images(3, 24, seed=2)
    for class_index in range(3):
        got = gradcam(small_model, images, class_index=class_index, layer_name="relu_c")
        assert got.shape == (3, 3, 3) and got.dtype == np.float32
        np.testing.assert_allclose(got, _hand_gradcam(small_model, images, class_index), atol=1e-5)


def test_gradcam_class_index_forms(small_model):
    images = random_images(3, 24, seed=4)
    per_image = gradcam(small_model, images, class_index=[0, 1, 2], layer_name="relu_c")
    for index in range(3):
        np.testing.assert_allclose(per_image[index], _hand_gradcam(small_model, images, index)[index], atol=1e-5)
    predicted = np.asarray(small_model(images)).argmax(axis=1)
    _, _, used = class_activation_maps(small_model, images, None, "relu_c")
    assert used.tolist() == predicted.tolist()
    from visconvnets.explain.cams import contrasting_maps

    predicted_maps, other_maps, probabilities, used_again = contrasting_maps(small_model, images, [2, 0, 1], "relu_c")
    np.testing.assert_allclose(predicted_maps, gradcam(small_model, images, None, "relu_c"), atol=1e-6)
    np.testing.assert_allclose(other_maps, gradcam(small_model, images, [2, 0, 1], "relu_c"), atol=1e-6)
    np.testing.assert_allclose(probabilities, np.asarray(small_model(images)), atol=1e-5)
    assert used_again.tolist() == predicted.tolist()
    with pytest.raises(ValueError, match="class_index must be in"):
        gradcam(small_model, images, class_index=3, layer_name="relu_c")
    with pytest.raises(ValueError, match="one int per image"):
        gradcam(small_model, images, class_index=[0, 1], layer_name="relu_c")


def test_contrasting_maps_on_one_scale(small_model):
    from visconvnets.explain.cams import contrasting_maps, has_shared_scale
    from visconvnets.explain.cams.base import activations_and_gradients
    from visconvnets.explain.cams.gradcam import gradcam_weighted

    images, others = random_images(3, 24, seed=5), [2, 0, 1]
    shared_predicted, shared_other, _, used = contrasting_maps(small_model, images, others, "relu_c", shared_scale=True)
    activations, gradients, _, _ = activations_and_gradients(small_model, images, None, "relu_c")
    raw_predicted = np.maximum(gradcam_weighted(activations, gradients), 0)  # logit units, per class
    _, gradients_other, _, _ = activations_and_gradients(small_model, images, others, "relu_c")
    raw_other = np.maximum(gradcam_weighted(activations, gradients_other), 0)
    peak = np.maximum(raw_predicted.max(axis=(1, 2)), raw_other.max(axis=(1, 2)))[:, None, None]

    def scaled(raw):
        return np.divide(raw, peak, out=np.zeros_like(raw), where=peak > 0)

    np.testing.assert_allclose(shared_predicted, scaled(raw_predicted), atol=1e-5)
    np.testing.assert_allclose(shared_other, scaled(raw_other), atol=1e-5)
    assert (peak > 0).any()
    top = np.maximum(shared_predicted.max(axis=(1, 2)), shared_other.max(axis=(1, 2)))
    assert np.allclose(top[peak.ravel() > 0], 1.0)
    assert (shared_other.max(axis=(1, 2)) < 0.999).any()  # a weaker map stays weaker than its own-peak version
    assert has_shared_scale("gradcam") and has_shared_scale("layercam") and not has_shared_scale("scorecam")
    own, other_own, _, _ = contrasting_maps(small_model, images, others, "relu_c", "eigencam", shared_scale=True)
    assert np.allclose(own.max(axis=(1, 2)), 1.0) or not own.any()  # no common unit: each map to its own peak


def test_all_negative_map_is_zero_not_nan(small_model):
    import keras

    clone = keras.models.clone_model(small_model)
    clone.set_weights(small_model.get_weights())
    kernel, bias = clone.get_layer("scores").get_weights()
    clone.get_layer("scores").set_weights([-np.abs(kernel), bias])  # every channel votes against every class
    images = random_images(2, 24, seed=6)
    for method in (gradcam, gradcam_plus_plus):
        maps = method(clone, images, class_index=0, layer_name="relu_c")
        assert not np.isnan(maps).any() and (maps == 0).all()


def test_flat_and_nested_models_give_the_same_maps():
    import keras

    keras.utils.set_random_seed(11)
    backbone = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(75, 75, 3))
    nested = keras.Sequential(
        [
            keras.Input((75, 75, 3)),
            backbone,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    inputs = keras.Input((75, 75, 3))
    flat_backbone = keras.applications.InceptionV3(include_top=False, weights=None, input_tensor=inputs)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(flat_backbone.output))
    flat = keras.Model(inputs, outputs)
    flat.set_weights(nested.get_weights())
    images = random_images(2, 75, seed=8) / 127.5 - 1
    for method in (gradcam, gradcam_plus_plus):
        got_flat = method(flat, images, class_index=[0, 2], layer_name="mixed7")
        got_nested = method(nested, images, class_index=[0, 2], layer_name="mixed7")
        assert got_flat.shape == (2, 3, 3)
        np.testing.assert_allclose(got_flat, got_nested, atol=1e-4)
    # no layer given: the run's choice, here mixed2 (7x7): mixed10, the deepest, has 1x1 cells at 75 px
    assert choose_cam_layer(nested) == choose_cam_layer(flat) and choose_cam_layer(flat)[0] == "mixed2"
    assert gradcam(nested, images).shape == (2, 7, 7)


# --- overlays -------------------------------------------------------------------------------


def test_overlay_puts_cells_on_receptive_field_centres():
    heatmap = np.zeros((7, 7), np.float32)
    heatmap[2, 5] = 1.0
    image = np.zeros((300, 300, 3), np.uint8)  # the original photo: twice the model's 150 px input
    aligned = upsample_heatmap(heatmap, (300, 300), geometry=(16, 21), input_size=150)
    peak = np.unravel_index(aligned.argmax(), aligned.shape)
    # cell (2, 5) centred at model pixel (53, 101) -> photo pixel ((53 + 0.5) * 2 - 0.5, (101 + 0.5) * 2 - 0.5)
    assert peak == (106, 202) or np.allclose(peak, (106.5, 202.5), atol=1)
    plain = upsample_heatmap(heatmap, (300, 300))
    plain_peak = np.unravel_index(plain.argmax(), plain.shape)
    assert np.allclose(plain_peak, ((2 + 0.5) * 300 / 7 - 0.5, (5 + 0.5) * 300 / 7 - 0.5), atol=1)
    overlay = drawn_pictures.overlay_heatmap(image, heatmap, alpha=0.5, geometry=(16, 21), input_size=150)
    assert overlay.shape == (300, 300, 3) and overlay.dtype == np.uint8
    assert overlay[106, 202].tolist() != overlay[0, 0].tolist()
    with pytest.raises(ValueError, match="heatmap must be"):
        drawn_pictures.overlay_heatmap(image, np.zeros((2, 2, 2)))


def test_receptive_field_is_walked_once_per_model_and_layer(small_model, monkeypatch):
    from visconvnets.models import geometry

    walks = []
    real_walk = geometry._walk_geometry
    monkeypatch.setattr(geometry, "_walk_geometry", lambda model, name: walks.append(name) or real_walk(model, name))
    geometry.layer_geometry.clear()  # start with nothing known
    assert [receptive_field(small_model, "conv_c") for _ in range(3)] == [(4.0, 6.0)] * 3
    assert receptive_field(small_model, "conv_b") == (2.0, 1.0)
    assert walks == ["conv_c", "conv_b"]


def test_unit_sheet_puts_each_pattern_beside_its_crops_under_its_label(tmp_path):
    """Block i: a label line (filter number, percentile), then pattern i and its crops 3 x 3 beside it, in
    order (most exciting first, row by row); the sheet under a 20-px title band."""
    from PIL import Image

    from visconvnets.render.pictures import HEADER_MIN_WIDTH
    from visconvnets.render.pictures.units import GAP, LABEL_HEIGHT, MARGIN, save_unit_sheet

    patterns = np.stack([np.full((40, 40, 3), level, np.uint8) for level in (60, 200)])
    crops = np.zeros((2, 9, 10, 10, 3), np.uint8)
    crops[..., 0] = np.arange(9, dtype=np.uint8)[None, :, None, None] * 25 + 20  # crop k: red 20 + 25 k
    path = save_unit_sheet(patterns, [7, 63], tmp_path / "sheet.jpg", "title", [99.5, 12.0], crops, columns=2)
    with Image.open(path) as sheet:
        pixels = np.asarray(sheet.convert("RGB")).astype(int)
    block_width, tile = 40 + GAP + 40, (40 - 2 * GAP) // 3
    width = MARGIN + 2 * (block_width + MARGIN)  # 198, padded to the title band's least width
    assert pixels.shape[:2] == (20 + MARGIN + LABEL_HEIGHT + 40 + MARGIN, max(width, HEADER_MIN_WIDTH))
    top = 20 + MARGIN + LABEL_HEIGHT
    for unit, level in enumerate((60, 200)):
        left = MARGIN + unit * (block_width + MARGIN)
        assert np.abs(pixels[top + 20, left + 20] - level).max() < 10  # the pattern
        label = pixels[20 + MARGIN : top, left : left + 60].mean(axis=2)
        assert label.min() < 100 and label.max() > 200  # dark text on white
        for k in range(9):
            row, column = divmod(k, 3)
            centre = (top + row * (tile + GAP) + tile // 2, left + 40 + GAP + column * (tile + GAP) + tile // 2)
            assert abs(pixels[centre][0] - (20 + 25 * k)) < 12 and pixels[centre][1] < 20, (unit, k)


def test_pattern_rows_stack_one_row_per_parameterization(tmp_path):
    """Each row under its own name band: the row's patterns side by side, each under its label; rows of
    different lengths padded white to the widest."""
    from PIL import Image

    from visconvnets.render.pictures.units import LABEL_HEIGHT, MARGIN, save_pattern_rows

    dark, light = np.full((2, 30, 30, 3), 40, np.uint8), np.full((3, 30, 30, 3), 220, np.uint8)
    rows = [("pixel", dark, [0, 1], [50.0, 99.0]), ("fourier", light, [0, 1, 2], [100.0, 100.0, 12.5])]
    path = save_pattern_rows(rows, tmp_path / "rows.jpg", "title")
    with Image.open(path) as picture:
        pixels = np.asarray(picture.convert("L")).astype(int)
    row_height = 20 + MARGIN + LABEL_HEIGHT + 30 + MARGIN  # name band, margin, label, pattern, margin
    assert pixels.shape[0] == 20 + 2 * row_height
    for row, (level, count) in enumerate(((40, 2), (220, 3))):
        top = 20 + row * row_height + 20 + MARGIN + LABEL_HEIGHT
        for index in range(count):
            assert abs(pixels[top + 15, MARGIN + index * (30 + MARGIN) + 15] - level) < 10, (row, index)
    assert pixels[20 + 20 + MARGIN + LABEL_HEIGHT + 15, MARGIN + 2 * (30 + MARGIN) + 15] > 245  # padding: white


def test_epoch_panel_carries_its_colour_scale():
    from visconvnets.render.pictures.epochs import epoch_panel

    image = np.full((40, 40, 3), 128.0)
    panel = epoch_panel(image, np.zeros((5, 5)), np.ones((5, 5)), ["epoch 1", "second line"])
    assert panel.shape[0] == 34 + 40 and panel.shape[1] >= 2 * 40 + 8 + 34
    ramp = panel[34:, 2 * 40 + 8 + 2]  # a column through the colour bar, top to bottom
    assert ramp[0, 0] > 100 and ramp[0, 2] < 60  # jet's 1: dark red at the top
    assert ramp[-1, 2] > 100 and ramp[-1, 0] < 60  # jet's 0: dark blue at the bottom


def test_traced_passes_equal_the_eager_passes(small_model):
    from visconvnets.explain.cams import (
        cam_pass,
        contrasting_maps,
        drop_traced_passes,
        trace_passes,
        traced_passes,
    )

    images, classes = random_images(3, 24, seed=6), [2, 0, 1]
    predicted, other, probabilities, used = contrasting_maps(small_model, images, classes, "relu_c")  # eager
    eager_pass = cam_pass(small_model, images, None, "relu_c")
    assert traced_passes(small_model, "relu_c") is None
    traced = trace_passes(small_model, "relu_c")
    assert traced_passes(small_model, "relu_c") is traced and trace_passes(small_model, "relu_c") is traced
    for count in (3, 2):  # another batch size runs the same trace (open batch dimension)
        found = contrasting_maps(small_model, images[:count], classes[:count], "relu_c")
        for eager_part, traced_part in zip((predicted, other, probabilities, used), found):
            np.testing.assert_allclose(eager_part[:count], traced_part, atol=1e-5)
    assert traced._both_passes.experimental_get_tracing_count() == 1
    traced_pass = cam_pass(small_model, images, None, "relu_c")  # predicted classes through the trace
    assert traced_pass.indices.tolist() == eager_pass.indices.tolist() and traced_pass.indices.dtype == np.int64
    from visconvnets.explain.methods import MAP_METHODS

    gradcam_of = MAP_METHODS["gradcam"].compute
    np.testing.assert_allclose(gradcam_of(traced_pass), gradcam_of(eager_pass), atol=1e-5)
    with pytest.raises(ValueError, match="class_index must be in"):
        cam_pass(small_model, images, 7, "relu_c")  # checked before the graph runs
    with pytest.raises(ValueError, match="no \\(batch, h, w, channels\\) output"):
        trace_passes(small_model, "scores")
    drop_traced_passes(small_model)  # the session's other tests see the eager passes
    assert traced_passes(small_model, "relu_c") is None
