"""--backbone: every listed keras.applications family builds flat with its own preprocessing inside,
loads Keras's weight files, fine-tunes its last stage, trains a tiny epoch and gets every picture."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visconvnets.models import keras_internals
from visconvnets.run import workflow
from visconvnets.settings.backbones import BACKBONES, PREPROCESSING, get_backbone
from visconvnets.settings.config import RunConfig

from .conftest import PROJECT_ROOT, make_class_tree, tiny_config

NAMES = [backbone.name for backbone in BACKBONES.values()]
# Convolutions phase 2 trains with the default --fine-tune-from, counted from each architecture:
# InceptionV3 blocks 9-10 (9 each); ResNet50V2 stage 5 (3 blocks x 3 + shortcut); Xception blocks 13-14
# (2 + shortcut + 2); EfficientNetV2B0 stage 6 (8 blocks x 5: expand, depthwise, 2 SE, project) + top;
# MobileNetV3 the last 3 blocks (5 each) + the last 1x1; DenseNet121 dense block 4 (16 x 2); ConvNeXtTiny
# the last downsampling + 3 depthwise (its pointwise layers are Dense); VGG16 block 5 (3).
LAST_STAGE_CONVOLUTIONS = {
    "InceptionV3": 18,
    "ResNet50V2": 10,
    "Xception": 5,
    "EfficientNetV2B0": 41,
    "MobileNetV3Small": 16,
    "MobileNetV3Large": 16,
    "DenseNet121": 32,
    "ConvNeXtTiny": 4,
    "VGG16": 3,
}
COMPARED = ("ResNet50V2", "VGG16", "DenseNet121", "MobileNetV3Small")  # tf, caffe, torch, built-in preprocessing
SIZE = 75  # the largest minimum (InceptionV3's); every family gets the same input


def _keras_module(name: str):
    """The keras.applications module whose ``preprocess_input`` documents the family's input scaling."""
    import keras

    modules = {
        "InceptionV3": "inception_v3",
        "ResNet50V2": "resnet_v2",
        "Xception": "xception",
        "EfficientNetV2B0": "efficientnet_v2",
        "MobileNetV3Small": "mobilenet_v3",
        "MobileNetV3Large": "mobilenet_v3",
        "DenseNet121": "densenet",
        "ConvNeXtTiny": "convnext",
        "VGG16": "vgg16",
    }
    return getattr(keras.applications, modules[name])


def _trainable_convolutions(model, trainable: list[str]) -> int:
    import keras

    from visconvnets.models import layers as layer_tools

    count = 0
    for layer in model.layers:
        if layer.name in trainable:
            members = layer_tools.iter_layers(layer) if isinstance(layer, keras.Model) else [layer]
            count += sum(type(member).__name__ in layer_tools.CONVOLUTION_TYPES for member in members)
    return count


def test_names_are_case_insensitive_and_unknown_ones_list_the_known():
    assert get_backbone("resnet50v2").name == "ResNet50V2" and get_backbone("VGG16").preprocessing == "caffe"
    assert RunConfig().backbone == "InceptionV3" and set(LAST_STAGE_CONVOLUTIONS) == set(NAMES)
    assert {backbone.preprocessing for backbone in BACKBONES.values()} == set(PREPROCESSING)
    with pytest.raises(ValueError, match=r"--backbone 'ResNet51' is not one of InceptionV3, ResNet50V2, .*VGG16"):
        get_backbone("ResNet51")


def test_bad_backbone_settings_fail_before_any_work(tiny_split, tmp_path):
    with pytest.raises(ValueError, match="not one of"):
        workflow.run(tiny_config(tiny_split, tmp_path / "a", backbone="resnet"))
    with pytest.raises(ValueError, match="--image-size must be at least 71 for Xception, got 64"):
        workflow.run(tiny_config(tiny_split, tmp_path / "b", backbone="xception", image_size=64))
    with pytest.raises(ValueError, match="unknown --fine-tune-from layer 'block9_conv1'.*nearest names: block"):
        workflow.run(tiny_config(tiny_split, tmp_path / "c", backbone="vgg16", fine_tune_from="block9_conv1"))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("name", NAMES)
def test_imagenet_weights_come_through_keras_loader_or_fail_with_instructions(name, tmp_path, monkeypatch):
    import keras

    from visconvnets.models import build

    backbone = get_backbone(name)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    asked = []

    def offline(*args, **kwargs):
        asked.append((args, kwargs))
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(RuntimeError) as raised:
        build.resolve_weights("imagenet", name.lower())
    (file_name, url), options = asked[0]
    assert file_name == backbone.weights_file and url.endswith("/" + file_name)
    assert url.startswith("https://storage.googleapis.com/tensorflow/keras-applications/")
    assert options == {"cache_subdir": "models", "file_hash": backbone.weights_hash}
    message = str(raised.value)
    assert f"ImageNet weights for {name}" in message and str(tmp_path / "models" / file_name) in message
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / file_name).write_bytes(b"cached")
    assert build.resolve_weights("imagenet", name) == str(tmp_path / "models" / file_name)  # no download


@pytest.mark.parametrize("name", NAMES)
def test_weights_file_loads_and_preprocessing_matches_keras_preprocess_input(name, tmp_path):
    """Our flat model on raw RGB == keras.applications' own model on ``preprocess_input(RGB)``, with
    the same weights from a Keras-format (legacy .h5) file: the scaling inside is the family's own."""
    import keras

    from visconvnets.models.build import build_model

    keras.utils.set_random_seed(5)
    reference = getattr(keras.applications, name)(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    keras_internals.save_legacy_h5_weights(reference, tmp_path / "backbone.h5")
    model = build_model(3, SIZE, str(tmp_path / "backbone.h5"), backbone=name)
    assert model.layers[1].name == "preprocess" or get_backbone(name).builds_own_preprocessing
    features = keras.Model(model.inputs, model.get_layer("head_pool").input)  # (n, h, w, channels)
    images = np.random.default_rng(1).uniform(0, 255, (2, SIZE, SIZE, 3)).astype("float32")
    got = np.asarray(features(images, training=False))
    expected = np.asarray(reference(_keras_module(name).preprocess_input(images.copy()), training=False))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


@pytest.mark.parametrize("name", NAMES)
def test_fine_tune_trains_the_last_stage(name):
    from visconvnets.models import build
    from visconvnets.models import layers as layer_tools

    backbone = get_backbone(name)
    model = build.build_model(3, SIZE, None, backbone=name)
    trainable = build.unfreeze_from(model, backbone.fine_tune_from)
    assert _trainable_convolutions(model, trainable) == LAST_STAGE_CONVOLUTIONS[name]
    convolutions = layer_tools.convolution_names(model)
    assert convolutions[0] not in trainable  # the stem stays frozen
    weighted = [layer for layer in build.backbone_layers(model) if layer.weights]
    assert weighted[-1].trainable or type(weighted[-1]).__name__ == "BatchNormalization"


@pytest.fixture(scope="module")
def very_small_split(tmp_path_factory) -> Path:
    """3 classes x 4 images (6 train, 3 validation... as the split rounds), for one-step epochs."""
    from visconvnets.data.split import split_dataset

    base = tmp_path_factory.mktemp("very_small")
    make_class_tree(base / "source", images_per_class=4)
    split_dataset(base / "source", base / "split", workers=1)
    return base / "split"


def _decodes(path: Path) -> tuple[int, int]:
    with Image.open(path) as picture:
        picture.load()
        return picture.size


# InceptionV3 trains (in graph mode) and draws every picture in test_training's shared run.
@pytest.mark.parametrize("name", [name for name in NAMES if name != "InceptionV3"])
def test_each_backbone_trains_a_tiny_epoch_and_writes_every_picture(name, very_small_split, tmp_path):
    from visconvnets.models.build import default_filter_layers
    from visconvnets.models.layer_choice import choose_cam_layer
    from visconvnets.models.layers import select_layers
    from visconvnets.models.saved import load_trained_model

    output = tmp_path / name
    compare = name in COMPARED  # every CAM method on one family of each preprocessing kind
    settings = dict(
        epochs=1, image_size=SIZE, activation_images=1, images_per_class=1, filter_count=2, compare_cams=compare
    )
    # eagerly: the same training step without 15-35 s of graph tracing per architecture
    metrics = workflow.run(tiny_config(very_small_split, output, backbone=name.upper(), run_eagerly=True, **settings))
    config = json.loads((output / "config.json").read_text())["config"]
    assert config["backbone"] == name and config["fine_tune_from"] == get_backbone(name).fine_tune_from
    history = (output / "history.csv").read_text().splitlines()[1:]
    assert [line.split(",")[1] for line in history] == ["scratch"]
    model, classes = load_trained_model(output / "model.keras")
    assert classes == ["daisy", "rose", "tulip"] and model.name == f"{name.lower()}_classifier"
    visualizations = metrics["visualizations"]
    grids = sorted((output / "activations").iterdir())
    assert len(grids) == 1 and len(list(grids[0].glob("*.jpg"))) == len(select_layers(model, None))
    assert visualizations["filters"] == default_filter_layers(model)  # in depth order
    for path in (output / "filters").glob("*.jpg"):
        assert _decodes(path)[0] > 0
    assert len(list((output / "filters").glob("*.jpg"))) == 3
    assert visualizations["gradcam_layer"] == choose_cam_layer(model)[0]
    assert visualizations["gradcam"] == len(list((output / "gradcam").glob("*.jpg"))) == 3
    assert visualizations["compare"] == len(list((output / "compare").glob("*.jpg"))) == (3 if compare else 0)
    wrong = sum(
        count
        for row, counts in enumerate(metrics["test"]["confusion_matrix"])
        for column, count in enumerate(counts)
        if row != column
    )
    assert visualizations["misclassified"] == wrong == len(list((output / "misclassified").glob("*.jpg")))
    for picture in ("training_curves.png", "confusion_matrix.png"):
        assert min(_decodes(output / picture)) > 100
    page = (output / "index.html").read_text(encoding="utf-8")
    assert metrics["model"] == f"{name} classifier" and f"{name} classifier, 75 px input" in page
    for target in re.findall(r'src="([^"]+)"', page):
        assert (output / target).is_file(), target


def test_readme_lists_every_backbone_with_its_preprocessing_and_grad_cam_layer():
    """The README's table is checked against the code: preprocessing kind and the default Grad-CAM
    layer at the default 299 px."""
    import keras

    from visconvnets.models.build import build_model
    from visconvnets.models.layer_choice import choose_cam_layer

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (\w[\w-]*) \| [^|]+\| (\d+) \| `(\w+)` \| `(\w+)` \|$", readme, re.M)
    assert [row[0] for row in rows] == NAMES
    for name, kind, minimum, fine_tune_from, layer in rows:
        backbone = get_backbone(name)
        assert (kind, int(minimum), fine_tune_from) == (
            backbone.preprocessing,
            backbone.minimum_size,
            backbone.fine_tune_from,
        )
        keras.utils.clear_session()  # auto-numbered names as the training script (a fresh session) makes them
        assert choose_cam_layer(build_model(3, 299, None, backbone=name))[0] == layer, name
