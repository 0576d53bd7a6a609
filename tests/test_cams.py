"""Every CAM method against a hand computation on the tiny model of conftest.py, the baselines'
defining properties, and the one entry point."""

from __future__ import annotations

import numpy as np
import pytest

from visconvnets.explain.cams import cam
from visconvnets.explain.cams.eigencam import eigencam_from_activations
from visconvnets.explain.methods import MAP_METHODS, MapMethod, ordered_methods, register_method
from visconvnets.settings.names import CAM_METHOD_NAMES

from .conftest import random_images


def _normalised(weighted: np.ndarray) -> np.ndarray:
    positive = np.maximum(weighted, 0)
    peak = positive.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, positive / np.where(peak > 0, peak, 1), 0)


def _features_and_logit_gradients(model, images, layer: str, class_index: int):
    """(activations (n, h, w, c), d logit_class / d activations) by a tape on a sub-model: the dense
    head's softmax is undone by taking the logits as ``pooled @ kernel + bias`` by hand."""
    import keras
    import tensorflow as tf

    kernel, bias = model.get_layer("scores").get_weights()
    inner = keras.Model(model.inputs, [model.get_layer(layer).output, model.get_layer("gap").output])
    with tf.GradientTape() as tape:
        activations, pooled = inner(tf.convert_to_tensor(images))
        tape.watch(activations)
        logits = tf.matmul(pooled, kernel) + bias
        score = tf.reduce_sum(logits[:, class_index])
    return activations.numpy(), tape.gradient(score, activations).numpy()


def test_every_name_is_registered_once():
    assert sorted(MAP_METHODS) == sorted(CAM_METHOD_NAMES) and len(CAM_METHOD_NAMES) == 15
    groups = [(method.baseline, method.pixels) for method in ordered_methods()]  # CAMs, pixel methods, baselines
    assert groups == [(False, False)] * 6 + [(False, True)] * 6 + [(True, False)] * 3
    assert {method.name for method in ordered_methods()[6:12]} == set(CAM_METHOD_NAMES[6:12])
    assert {name for name, method in MAP_METHODS.items() if method.baseline} == {"random", "centre", "sobel"}
    with pytest.raises(ValueError, match="unknown map method 'gradcam2'; choose from centre, eigencam, gradcam"):
        cam(None, np.zeros((1, 8, 8, 3)), "gradcam2")
    # a method outside settings.names' one list is refused, so --cam-method's choices cannot miss it
    with pytest.raises(ValueError, match="'mine' is not in settings.names.CAM_METHOD_NAMES: add it there"):
        register_method(MapMethod("mine", compute=lambda cam_pass: None))
    assert "mine" not in MAP_METHODS


def test_layercam_and_hirescam_are_the_products_they_claim(small_model):
    """At relu_c (feeding the global average pool) the gradient is W[:, c] / (h w) at every position:
    HiResCAM equals Grad-CAM; LayerCAM keeps only the positive weights."""
    images = random_images(3, 24, seed=7)
    kernel = small_model.get_layer("scores").get_weights()[0]
    for class_index in range(3):
        activations, gradients = _features_and_logit_gradients(small_model, images, "relu_c", class_index)
        np.testing.assert_allclose(gradients[0, 1, 2], kernel[:, class_index] / 9, rtol=1e-5)
        hires = cam(small_model, images, "hirescam", class_index, "relu_c")
        np.testing.assert_allclose(hires, _normalised(np.einsum("nhwc,nhwc->nhw", gradients, activations)), atol=1e-5)
        np.testing.assert_allclose(hires, cam(small_model, images, "gradcam", class_index, "relu_c"), atol=1e-5)
        layer = cam(small_model, images, "layercam", class_index, "relu_c")
        expected = _normalised(np.einsum("nhwc,nhwc->nhw", np.maximum(gradients, 0), activations))
        np.testing.assert_allclose(layer, expected, atol=1e-5)


def test_hirescam_differs_from_gradcam_where_gradients_vary(small_model):
    """At conv_b (two layers below the pool) the gradient varies by position: HiResCAM is the
    position-wise product, Grad-CAM the channel-mean one, and they differ."""
    images = random_images(2, 24, seed=8)
    activations, gradients = _features_and_logit_gradients(small_model, images, "conv_b", 1)
    hires = cam(small_model, images, "hirescam", 1, "conv_b")
    np.testing.assert_allclose(hires, _normalised(np.einsum("nhwc,nhwc->nhw", gradients, activations)), atol=1e-5)
    grad = cam(small_model, images, "gradcam", 1, "conv_b")
    np.testing.assert_allclose(
        grad, _normalised(np.einsum("nhwc,nc->nhw", activations, gradients.mean(axis=(1, 2)))), atol=1e-5
    )
    assert np.abs(hires - grad).max() > 0.05


def test_scorecam_equals_a_per_channel_loop(small_model):
    """Score-CAM with every channel kept (relu_c has 5) against the paper's loop, one masked image at
    a time through the model's own softmax output."""
    import keras
    import tensorflow as tf

    images = random_images(2, 24, seed=9)
    activations = np.asarray(keras.Model(small_model.inputs, small_model.get_layer("relu_c").output)(images))
    expected = np.zeros(activations.shape[:3])
    for image_index in range(2):
        for channel in range(activations.shape[-1]):
            upsampled = tf.image.resize(activations[image_index, :, :, channel, None], (24, 24)).numpy()[..., 0]
            span = upsampled.max() - upsampled.min()
            mask = (upsampled - upsampled.min()) / span if span > 0 else np.zeros_like(upsampled)
            masked = (images[image_index] * mask[..., None])[None]  # (1, 24, 24, 3)
            probability = np.asarray(small_model(masked))[0, 2]
            expected[image_index] += probability * activations[image_index, :, :, channel]
    got = cam(small_model, images, "scorecam", 2, "relu_c")
    np.testing.assert_allclose(got, _normalised(expected), atol=1e-5)


def test_scorecam_keeps_the_most_active_channels(small_model):
    from visconvnets.explain.cams import cam_pass
    from visconvnets.explain.cams.scorecam import scorecam_maps

    images = random_images(2, 24, seed=10)
    one_pass = cam_pass(small_model, images, 0, "relu_c")
    mean = one_pass.activations.mean(axis=(1, 2))  # (n, 5)
    one_pass.activations[..., mean[0].argmin()] *= 0  # the least active channel cannot matter when 4 are kept
    assert np.allclose(scorecam_maps(one_pass, top_channels=4), scorecam_maps(one_pass, top_channels=5), atol=1e-6)


def test_eigencam_recovers_a_rank_one_pattern():
    """Activations = spatial pattern x channel profile (+ tiny noise): the map is the centred pattern,
    its sign chosen to agree with the total activation."""
    rng = np.random.default_rng(0)
    pattern = rng.random((2, 5, 5))
    profile = rng.random((2, 7)) + 0.5
    activations = np.einsum("nhw,nc->nhwc", pattern, profile) + rng.normal(0, 1e-6, (2, 5, 5, 7))
    centred = pattern - pattern.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(eigencam_from_activations(activations), _normalised(centred), atol=1e-4)


def test_baselines(small_model):
    images = random_images(2, 24, seed=11)
    first, again = cam(small_model, images, "random", seed=3), cam(small_model, images, "random", seed=3)
    # no layer given: the run's own choice, the deepest layer every path passes with at least 5x5 cells (pool:
    # relu_c, the deepest, has 3x3)
    assert first.shape == (2, 5, 5) and np.array_equal(first, again)
    assert not np.array_equal(first, cam(small_model, images, "random", seed=4))
    centre = cam(
        small_model, images, "centre", layer_name="relu_c"
    )  # cells at 6, 10, 14: the middle one is nearest 11.5
    assert centre[0, 1, 1] == 1.0 and centre[0, 0, 0] < centre[0, 0, 1] < 1.0
    edge = np.zeros((1, 24, 24, 3), np.float32)
    edge[:, :, 14:] = 255.0  # a vertical edge between columns 13 and 14: the cell centred at 14 sits on it
    sobel = cam(small_model, edge, "sobel", layer_name="relu_c")
    assert sobel[0, :, 2].min() == 1.0 and sobel[0, :, 0].max() == 0.0


@pytest.mark.parametrize("method", CAM_METHOD_NAMES)
def test_every_method_gives_finite_maps_in_range(small_model, method):
    maps = cam(small_model, random_images(3, 24, seed=12), method, layer_name="relu_c")
    cells = (24, 24) if MAP_METHODS[method].pixels else (3, 3)  # a pixel method's maps at the input's pixels
    assert maps.shape == (3, *cells) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and maps.min() >= 0.0 and maps.max() <= 1.0


def test_gradcam_equals_hirescam_before_global_pooling_in_inception():
    """The identity on a real architecture: InceptionV3 at 150 px, mixed10 (3x3) feeds the pool."""
    import keras

    from visconvnets.models.build import build_model

    keras.utils.set_random_seed(2)
    model = build_model(3, 150, None)
    images = random_images(2, 150, seed=13)
    grad = cam(model, images, "gradcam", [0, 2], "mixed10")
    np.testing.assert_allclose(grad, cam(model, images, "hirescam", [0, 2], "mixed10"), atol=1e-4)
    assert grad.shape == (2, 3, 3) and grad.max() == 1.0


def test_one_cam_layer_policy_for_the_library_the_callback_and_the_run(small_model):
    """``cam()`` without a layer, ``ExplainEachEpoch`` without one and the run all answer "which layer" alike."""
    from visconvnets.explain.cams import default_cam_layer
    from visconvnets.models.layer_choice import choose_cam_layer
    from visconvnets.run.pictures import resolve_layers
    from visconvnets.settings.config import VisualizationConfig
    from visconvnets.train.callbacks import ExplainEachEpoch

    layer, reason = choose_cam_layer(small_model)
    assert layer == default_cam_layer(small_model) == "pool" and "relu_c has only 3x3 cells" in reason
    chosen = resolve_layers(small_model, VisualizationConfig(filters=False))
    assert (chosen.cam, chosen.cam_reason) == (layer, reason) and chosen.filters == ()
    probe = ExplainEachEpoch(random_images(2, 24, seed=1), [0, 1], "unused")
    probe.set_model(small_model)
    probe.on_train_begin()
    assert probe.layer == layer
    given = resolve_layers(small_model, VisualizationConfig(gradcam_layer="relu_c", filters=False))
    assert given.cam == "relu_c" and "--gradcam-layer" in given.cam_reason
