"""Pixel attributions against hand computations on tiny models: completeness, independent tapes, explicit
loops over patches and masks, the guided product rule, and a model that looks only at one quadrant."""

from __future__ import annotations

import numpy as np
import pytest

from visconvnets.explain.attribution import attribute
from visconvnets.explain.methods import MAP_METHODS
from visconvnets.explain.pixels import rise_masks

from .conftest import random_images


def _smooth_model(logits: bool = True, seed: int = 5):
    """(12, 12, 3) -> 3 classes through tanh (smooth everywhere); logits, or the same with a softmax."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="tanh", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation=None if logits else "softmax", name="scores")(x)
    return keras.Model(inputs, outputs)


def _logits(model, images):
    return np.asarray(model(images, training=False))


def test_the_registry_holds_the_six_methods():
    assert sorted(name for name, method in MAP_METHODS.items() if method.pixels) == sorted(
        ["saliency", "smoothgrad", "integrated_gradients", "occlusion", "rise", "guided_backprop"]
    )


def test_integrated_gradients_are_complete_within_one_percent_at_64_steps():
    model = _smooth_model()
    images = random_images(3, 12, seed=1)
    raw = attribute(model, images, "integrated_gradients", class_index=[0, 1, 2], reduce=None, steps=64)
    assert raw.shape == (3, 12, 12, 3)
    logits, black = _logits(model, images), _logits(model, np.zeros_like(images))
    expected = logits[np.arange(3), [0, 1, 2]] - black[np.arange(3), [0, 1, 2]]
    assert np.all(np.abs(expected) > 1e-3)  # a difference to explain
    np.testing.assert_allclose(raw.sum(axis=(1, 2, 3)), expected, rtol=0.01)


def test_saliency_equals_an_independent_tape_and_ignores_the_softmax():
    import tensorflow as tf

    model, with_softmax = _smooth_model(), _smooth_model(logits=False)
    with_softmax.set_weights(model.get_weights())
    images = random_images(2, 12, seed=2)
    tensor = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        score = tf.reduce_sum(tf.gather(model(tensor), [2, 0], axis=1, batch_dims=1))
    expected = tape.gradient(score, tensor).numpy()
    for classifier in (model, with_softmax):  # the class score before the softmax, either head
        raw = attribute(classifier, images, "saliency", class_index=[2, 0], reduce=None)
        np.testing.assert_allclose(raw, expected, rtol=1e-4, atol=1e-7)
    drawn = attribute(model, images, "saliency", class_index=[2, 0], reduce="abs_max")
    peak = np.abs(expected).max(axis=-1)
    np.testing.assert_allclose(drawn, peak / peak.max(axis=(1, 2), keepdims=True), rtol=1e-4, atol=1e-6)


def test_smoothgrad_without_noise_is_saliency_and_with_noise_differs():
    model = _smooth_model()
    images = random_images(2, 12, seed=3)
    plain = attribute(model, images, "saliency", reduce=None)
    quiet = attribute(model, images, "smoothgrad", reduce=None, sigma=0.0, samples=5)
    np.testing.assert_allclose(quiet, plain, rtol=1e-5, atol=1e-8)
    noisy = attribute(model, images, "smoothgrad", reduce=None, sigma=0.3, samples=5, seed=1)
    assert np.abs(noisy - plain).max() > 1e-4 * np.abs(plain).max()


def test_occlusion_equals_an_explicit_patch_loop():
    model = _smooth_model()
    images = random_images(2, 12, seed=4)
    patch, stride, classes = 5, 3, np.array([1, 2])
    raw = attribute(model, images, "occlusion", class_index=classes, reduce=None, patch=patch, stride=stride)
    corners = [0, 3, 6, 7]  # every 3 px, the last flush with the 12-px edge
    total, covers = np.zeros((2, 12, 12)), np.zeros((12, 12))
    plain = _logits(model, images)[np.arange(2), classes]
    for top in corners:
        for left in corners:
            occluded = images.copy()
            occluded[:, top : top + patch, left : left + patch] = 0.0
            drop = plain - _logits(model, occluded)[np.arange(2), classes]
            total[:, top : top + patch, left : left + patch] += drop[:, None, None]
            covers[top : top + patch, left : left + patch] += 1
    np.testing.assert_allclose(raw.sum(axis=-1), total / covers, rtol=1e-4, atol=1e-6)


def test_rise_equals_an_explicit_mask_loop_with_the_same_seed():
    from visconvnets.models.heads import softmax

    model = _smooth_model()
    images = random_images(2, 12, seed=6)
    raw = attribute(model, images, "rise", class_index=[0, 1], reduce=None, masks=40, cells=3, keep=0.5, seed=9)
    masks = rise_masks(40, 12, 12, cells=3, keep=0.5, seed=9)
    assert masks.shape == (40, 12, 12) and masks.min() >= 0 and masks.max() <= 1 and masks.std() > 0.1
    expected = np.zeros((2, 12, 12))
    for image_index, class_index in enumerate([0, 1]):
        for mask in masks:
            probability = softmax(_logits(model, images[image_index][None] * mask[None, :, :, None]))[0, class_index]
            expected[image_index] += probability * mask
    np.testing.assert_allclose(raw.sum(axis=-1), expected / (40 * 0.5), rtol=1e-4, atol=1e-6)


def test_guided_backprop_is_the_product_rule_with_relu_gradients_masked():
    import keras

    keras.utils.set_random_seed(7)
    inputs = keras.Input((4, 4, 3))
    flat = keras.layers.Flatten()(inputs)
    hidden = keras.layers.Dense(6, activation="relu", name="hidden")(flat)
    model = keras.Model(inputs, keras.layers.Dense(3, name="scores")(hidden))
    images = random_images(2, 4, seed=8) / 255.0 - 0.5
    first, bias = model.get_layer("hidden").get_weights()
    second = model.get_layer("scores").get_weights()[0]
    raw = attribute(model, images, "guided_backprop", class_index=[0, 2], reduce=None)
    for index, class_index in enumerate([0, 2]):
        before = images[index].reshape(-1) @ first + bias  # (6,) before the ReLU
        upstream = second[:, class_index]  # (6,) d score / d hidden
        passed = upstream * (before > 0) * (upstream > 0)  # guided: positive inputs and positive gradients only
        np.testing.assert_allclose(raw[index].reshape(-1), first @ passed, rtol=1e-5, atol=1e-7)
    plain = attribute(model, images, "saliency", class_index=[0, 2], reduce=None)
    assert not np.allclose(raw, plain)  # the mask changed something


def test_deleting_by_integrated_gradients_beats_a_random_map_on_a_quadrant_model():
    """A model that reads only the top-left quadrant's red: IG's map puts that quadrant first, so deleting by it
    drops the class probability far sooner than deleting in a random order."""
    import keras

    from visconvnets.scores.faithfulness import deletion_insertion

    inputs = keras.Input((32, 32, 3))
    corner = keras.layers.Cropping2D(((0, 16), (0, 16)))(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(corner)
    scores = keras.layers.Dense(2, name="scores")(pooled)
    model = keras.Model(inputs, scores)
    model.get_layer("scores").set_weights(
        [np.array([[0.05, -0.05], [0, 0], [0, 0]], np.float32), np.array([-6.4, 6.4])]
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 60, (4, 32, 32, 3)).astype(np.float32)
    images[:, :16, :16, 0] = 255.0  # red in the quadrant the model reads: class 0, probability near 1
    maps = attribute(model, images, "integrated_gradients", class_index=0, steps=16)
    assert maps[:, :16, :16].min() > maps[:, 16:, :].max() and maps[:, 16:].max() == 0.0
    found = deletion_insertion(model, images, {"ig": maps, "random": rng.random((4, 32, 32))}, 0, 16, "black")
    assert found["random"]["deletion_auc"].mean() - found["ig"]["deletion_auc"].mean() > 0.2


def test_nested_backbones_give_the_flat_models_attributions():
    import keras

    flat = _smooth_model()
    inner = keras.Model(flat.inputs, flat.get_layer("conv").output)
    nested = keras.Sequential(
        [keras.Input((12, 12, 3)), inner, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)]
    )
    nested.layers[-1].set_weights(flat.get_layer("scores").get_weights())
    images = random_images(2, 12, seed=10)
    for method in ("saliency", "integrated_gradients", "guided_backprop"):
        np.testing.assert_allclose(
            attribute(
                nested, images, method, reduce=None, **({"steps": 8} if method == "integrated_gradients" else {})
            ),
            attribute(flat, images, method, reduce=None, **({"steps": 8} if method == "integrated_gradients" else {})),
            rtol=1e-4,
            atol=1e-7,
        )


def test_cam_names_give_maps_at_the_input_resolution(small_model):
    maps = attribute(small_model, random_images(2, 24, seed=12), "gradcam", layer_name="relu_c")
    assert maps.shape == (2, 24, 24) and maps.dtype == np.float32 and maps.min() >= 0 and maps.max() <= 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"method": "lime"}, "unknown map method 'lime'", id="unknown method"),
        pytest.param({"images": np.zeros((2, 10, 10, 3))}, "images must be 12x12 for this model, got 10x10", id="size"),
        pytest.param({"images": np.zeros((12, 12, 3))}, r"images must be \(n, height, width, 3\)", id="no batch"),
        pytest.param({"steps": 0}, "integrated gradients needs steps >= 1, got 0", id="steps 0"),
        pytest.param({"method": "saliency", "steps": 4}, "saliency takes no option 'steps'", id="foreign option"),
        pytest.param(
            {"reduce": "mean"}, "reduce must be one of own, abs_sum, abs_max, sum or None, got 'mean'", id="reduce"
        ),
        pytest.param({"class_index": 3}, r"class_index must be in \[0, 2\], got \[3\]", id="class"),
        pytest.param({"method": "gradcam", "reduce": None}, "no raw per-pixel attributions", id="raw cam"),
        pytest.param(
            {"method": "occlusion", "patch": 20},
            "occlusion needs 1 <= patch <= 12 and stride >= 1, got patch=20",
            id="patch too large",
        ),
    ],
)
def test_bad_input_names_the_value(arguments, message):
    model = _smooth_model()
    options = {"images": random_images(1, 12, seed=0), "method": "integrated_gradients", **arguments}
    with pytest.raises(ValueError, match=message):
        attribute(model, **options)


def test_pixel_maps_are_scored_and_drawn_without_receptive_field_placement():
    """A map at the input's resolution is one value per pixel: upsampling ignores a layer's geometry (so the
    scores and overlays need no special case), and the pointing game reads its peak where it is."""
    from visconvnets.models.geometry import upsample_heatmaps
    from visconvnets.scores.pointing import pointing_hits

    maps = np.zeros((1, 24, 24))
    maps[0, 3, 20] = 1.0
    np.testing.assert_allclose(upsample_heatmaps(maps, (24, 24), geometry=(4.0, 6.0)), maps, atol=1e-6)
    np.testing.assert_allclose(upsample_heatmaps(maps, (24, 24), (4.0, 6.0), 24), upsample_heatmaps(maps, (24, 24)))
    cells = np.zeros((1, 3, 3))
    cells[0, 0, 2] = 1.0  # a cell map still goes to its centres: cell 2 at 4 * 2 + 6 = 14
    assert upsample_heatmaps(cells, (24, 24), geometry=(4.0, 6.0))[0, 6].argmax() == 14
    hits, _ = pointing_hits(maps, [[19, 2, 21, 4]], (4.0, 6.0), 24)  # the peak at x=20, y=3, not 4*20+6
    assert hits.tolist() == [True]


def test_cam_runs_pixel_methods_with_the_passes_options_as_attribute_does():
    """One registry: ``cam`` with a pixel name gives ``attribute``'s map in the method's own reduction, the
    options it is handed (``CamPass.options``) reach the method, and the default occlusion patch is the
    side / 8 moved by half of it."""
    from visconvnets.explain.cams import cam, contrasting_maps

    model, images, classes = _smooth_model(), random_images(3, 12, seed=8), np.array([0, 1, 2])
    options = {"integrated_gradients": {"steps": 8}, "occlusion": {"patch": 4, "stride": 2}}
    found = cam(model, images, "integrated_gradients", classes, "conv", options=options)
    np.testing.assert_allclose(found, attribute(model, images, "integrated_gradients", classes, steps=8), atol=1e-6)
    assert not np.allclose(found, attribute(model, images, "integrated_gradients", classes, steps=1), atol=1e-3)
    occluded = cam(model, images, "occlusion", classes, "conv", options=options)
    np.testing.assert_allclose(occluded, attribute(model, images, "occlusion", classes, "sum", patch=4, stride=2))
    default = attribute(model, images, "occlusion", classes, "sum")  # 12 px: patch 12 // 8 = 1, stride 1
    np.testing.assert_allclose(default, attribute(model, images, "occlusion", classes, "sum", patch=1, stride=1))
    predicted, other, _, _ = contrasting_maps(model, images, classes, "conv", "saliency", shared_scale=True)
    assert predicted.shape == other.shape == (3, 12, 12)
    np.testing.assert_allclose(np.maximum(predicted.max(axis=(1, 2)), other.max(axis=(1, 2))), 1.0)  # one scale
