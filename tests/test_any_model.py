"""Pictures for any Keras image classifier given with --model: defaults that adapt to the model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from visconvnets.data.images import load_images
from visconvnets.models.layer_choice import choose_cam_layer, spread_convolutions
from visconvnets.models.layers import conv_layers_by_position, select_layers
from visconvnets.models.saved import load_trained_model
from visconvnets.run import workflow
from visconvnets.settings import outputs
from visconvnets.settings.config import RunConfig


def tutorial_cnn(size: int = 75, classes: int = 3):
    """The Keras tutorial's shape: Rescaling, three Conv2D with fused ReLU and pooling, Flatten, Dense logits."""
    import keras

    keras.utils.set_random_seed(5)
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(classes),
        ],
        name="tutorial_cnn",
    )


def test_inception_keeps_the_blogs_layers_and_steps_back_when_small(inception_flat):
    assert spread_convolutions(inception_flat, [3 / 94, 8 / 94, 40 / 94]) == conv_layers_by_position(
        inception_flat, (3, 8, 40)
    )
    layer, reason = choose_cam_layer(inception_flat)  # 75 px: mixed10 is 1x1, mixed3 3x3, mixed2 7x7
    assert layer == "mixed2"
    assert "mixed10 has only 1x1 cells" in reason and "at least 5x5 (7x7)" in reason


def test_small_model_defaults():
    model = tutorial_cnn()
    convolutions = select_layers(model, ["Conv2D"])
    assert select_layers(model, None) == convolutions  # fused activations: the convolutions are the grids
    assert spread_convolutions(model, [3 / 94, 8 / 94, 40 / 94]) == convolutions  # 1st, 2nd, 3rd
    layer, reason = choose_cam_layer(model)
    assert layer == model.layers[-3].name and "7x7 cells" in reason  # the last pooling, before Flatten


@pytest.mark.xdist_group("any_model")
def test_a_tutorial_cnn_with_logits_gets_every_picture(tiny_split, tmp_path):
    model = tutorial_cnn()
    path = tmp_path / "mine" / "tutorial.keras"
    path.parent.mkdir()
    model.save(path)  # no classes.json: the class names come from --data's folders
    metrics = workflow.run(
        RunConfig(
            model=path,
            data=tiny_split,
            output=tmp_path / "out",
            verbose=0,
            filter_size=75,
            filter_count=4,
            faithfulness=False,  # the scores of any model: test_training and test_faithfulness
        )
    )
    layout = outputs.RunLayout(tmp_path / "out")
    visualizations = metrics["visualizations"]
    assert metrics["classes"] == ["daisy", "rose", "tulip"]
    assert visualizations["gradcam"] == 6 and visualizations["gradcam_layer"] == model.layers[-3].name
    assert "7x7 cells" in visualizations["gradcam_layer_reason"]
    assert len(visualizations["filters"]) == 3 and all(count == 3 for count in visualizations["activations"].values())
    rows = outputs.read_predictions_csv(layout / outputs.PREDICTIONS)
    probabilities = np.array([[float(row[name]) for name in metrics["classes"]] for row in rows])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)  # logits turned into probabilities
    logits = np.asarray(model(load_images([tiny_split / row["path"] for row in rows], 75)), np.float64)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(probabilities, expected / expected.sum(axis=1, keepdims=True), atol=1e-5)
    for picture in [*layout.root.rglob("*.jpg")]:
        with Image.open(picture) as opened:
            opened.load()
    assert (layout / outputs.REPORT).is_file()


def test_class_names_and_bad_models(tmp_path):
    import keras

    model = tutorial_cnn()
    model.save(tmp_path / "model.keras")
    assert load_trained_model(tmp_path / "model.keras")[1] == ["class_0", "class_1", "class_2"]
    with pytest.raises(ValueError, match="--data's class folders lists 2 classes but the model outputs 3"):
        load_trained_model(tmp_path / "model.keras", ["a", "b"])
    (tmp_path / outputs.CLASSES).write_text(json.dumps({"classes": ["x", "y", "z"]}))
    assert load_trained_model(tmp_path / "model.keras", ["a", "b"])[1] == ["x", "y", "z"]  # classes.json first
    first, second = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    joined = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Add()([first, second])))
    keras.Model([first, second], joined).save(tmp_path / "two.keras")
    with pytest.raises(ValueError, match="2 input\\(s\\).*only single-input"):
        load_trained_model(tmp_path / "two.keras")


def keras_application(name: str, size: int = 75, nesting: int = 0, classes: int = 3):
    """A ``keras.applications`` backbone (random weights) + pooling + softmax, flat or nested ``nesting`` deep."""
    import keras

    keras.utils.set_random_seed(9)
    backbone = getattr(keras.applications, name)(include_top=False, weights=None, input_shape=(size, size, 3))
    if nesting == 0:
        outputs = keras.layers.Dense(classes, activation="softmax")(
            keras.layers.GlobalAveragePooling2D()(backbone.output)
        )
        return keras.Model(backbone.input, outputs, name=f"flat_{name.lower()}")
    inner = backbone
    for depth in range(nesting - 1):
        inner = keras.Sequential([keras.Input((size, size, 3)), inner], name=f"wrapper_{depth}")
    head = [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(classes, activation="softmax")]
    return keras.Sequential([keras.Input((size, size, 3)), inner, *head], name=f"nested_{name.lower()}")


@pytest.mark.parametrize(("name", "nesting"), [("ResNet50V2", 2), ("EfficientNetB0", 0), ("MobileNetV3Small", 1)])
def test_saved_keras_applications_get_every_picture(tiny_split, tmp_path, name, nesting):
    path = tmp_path / "model.keras"
    keras_application(name, nesting=nesting).save(path)
    settings = dict(filter_size=75, filter_count=4, activation_images=1, images_per_class=1)
    # every picture setting at its default; the map scores have their own tests
    metrics = workflow.run(
        RunConfig(model=path, data=tiny_split, output=tmp_path / "out", verbose=0, faithfulness=False, **settings)
    )
    visualizations = metrics["visualizations"]
    assert visualizations["gradcam"] == 3 and len(visualizations["filters"]) == 3
    assert list(visualizations["activations"].values())[0] > 10  # every convolution and activation
    assert "cells" in visualizations["gradcam_layer_reason"] and metrics["test"]["count"] == 6
    for picture in (tmp_path / "out").rglob("*.jpg"):
        with Image.open(picture) as opened:
            opened.load()


BACKBONES = ("InceptionV3", "ResNet50V2", "Xception", "EfficientNetV2B0", "MobileNetV3Small", "MobileNetV3Large",
             "DenseNet121", "ConvNeXtTiny", "VGG16")  # fmt: skip


@pytest.mark.parametrize("name", BACKBONES)
def test_receptive_field_of_the_chosen_layer_matches_the_gradient_centre(name):
    """The centre cell of each backbone's default Grad-CAM layer sits where its input gradient is
    centred, within one stride (depthwise, separable, dilated convolutions, squeeze-and-excite,
    residual Add with 'same'-padding offsets, nested blocks)."""
    import tensorflow as tf

    from visconvnets.models.forward import forward
    from visconvnets.models.geometry import receptive_field
    from visconvnets.models.layers import find_layer

    size = 128
    model = keras_application(name, size=size)
    layer, _ = choose_cam_layer(model)
    stride, offset = receptive_field(model, layer)
    cell = int(find_layer(model, layer).output.shape[1]) // 2
    images = tf.constant(np.random.default_rng(7).uniform(0, 255, (4, size, size, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(images)
        _, recorded = forward(model, images, taps=[layer], stop_after_taps=True)
        target = tf.reduce_sum(recorded[layer][:, cell, cell, :])
    magnitude = np.abs(tape.gradient(target, images).numpy()).sum(axis=(0, 3))  # (size, size)
    positions = np.arange(size)
    for profile in (magnitude.sum(axis=1), magnitude.sum(axis=0)):  # rows, then columns
        centre = float((profile * positions).sum() / profile.sum())
        assert abs(centre - (stride * cell + offset)) <= stride, (layer, centre, stride * cell + offset)


def test_legacy_h5_and_unknown_custom_layers(tmp_path):
    import keras

    model = tutorial_cnn()
    model.save(tmp_path / "legacy.h5")  # the old HDF5 format
    loaded, classes = load_trained_model(tmp_path / "legacy.h5")
    assert classes == ["class_0", "class_1", "class_2"] and loaded.output_shape == (None, 3)

    class Doubling(keras.layers.Layer):  # not registered: Keras cannot rebuild it from the file
        def call(self, inputs):
            return inputs * 2

    inputs = keras.Input((16, 16, 3))
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Conv2D(4, 3)(Doubling()(inputs))))
    keras.Model(inputs, outputs).save(tmp_path / "custom.keras")
    with pytest.raises(ValueError, match="custom_objects=.*register_keras_serializable"):
        load_trained_model(tmp_path / "custom.keras")
    lambda_inputs = keras.Input((16, 16, 3))
    halved = keras.layers.Lambda(lambda tensor: tensor / 2)(lambda_inputs)
    keras.Model(lambda_inputs, keras.layers.Dense(2)(keras.layers.Flatten()(halved))).save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="Lambda layer with Python code.*safe_mode=False"):
        load_trained_model(tmp_path / "lambda.keras")


def test_flat_and_nested_copies_give_the_same_maps():
    """The same ResNet50V2 weights, flat or nested two levels deep: the same default layer and maps."""
    from visconvnets.explain.cams import gradcam

    nested = keras_application("ResNet50V2", size=64, nesting=2)
    flat = keras_application("ResNet50V2", size=64)
    flat.set_weights(nested.get_weights())
    assert choose_cam_layer(flat)[0] == choose_cam_layer(nested)[0]
    layer = choose_cam_layer(nested)[0]
    images = np.random.default_rng(3).uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    expected = gradcam(flat, images, class_index=[0, 2], layer_name=layer)
    assert expected.max() > 0
    np.testing.assert_allclose(gradcam(nested, images, class_index=[0, 2], layer_name=layer), expected, atol=1e-4)
