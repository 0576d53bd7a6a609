"""Users' own models seen as Keras sees them at inference: augmentation and dropout inside the model, binary
and multi-label heads, grayscale inputs, any input size (models built the way the Keras tutorials build them)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from visconvnets.data.images import load_images
from visconvnets.settings import outputs
from visconvnets.settings.config import RunConfig

SIZE = 32


def training_dependent_layers(layers):
    """Every layer Keras ships that acts differently in training and that a user's model may hold."""
    return [
        layers.RandomFlip("horizontal_and_vertical", name="flip"),
        layers.RandomRotation(0.3, name="rotation"),
        layers.RandomZoom(0.3, name="zoom"),
        layers.RandomTranslation(0.2, 0.2, name="translation"),
        layers.RandomContrast(0.5, name="contrast"),
    ], [
        layers.BatchNormalization(name="batch_norm"),
        layers.GaussianNoise(1.0, name="noise"),
        layers.SpatialDropout2D(0.5, name="spatial_dropout"),
        layers.GaussianDropout(0.5, name="gaussian_dropout"),
    ]


def augmented_model(nested: bool):
    """Augmentation first, a convolution, every noise and dropout layer, pooling, Dropout and a softmax head;
    ``nested``: the augmentation as a Sequential inside a functional model (as the tutorials write it)."""
    import keras

    keras.utils.set_random_seed(11)
    layers = keras.layers
    augmentation, noisy = training_dependent_layers(layers)
    body = [
        layers.Conv2D(6, 3, activation="relu", name="conv"),
        *noisy,
        layers.MaxPooling2D(name="pool"),
        layers.Dropout(0.5, name="dropout"),
        layers.Flatten(name="flatten"),
        layers.Dense(3, activation="softmax", name="scores"),
    ]
    if not nested:
        model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), *augmentation, *body], name="flat_augmented")
    else:
        inputs = keras.Input((SIZE, SIZE, 3))
        values = keras.Sequential([keras.Input((SIZE, SIZE, 3)), *augmentation], name="augmentation")(inputs)
        for layer in body:
            values = layer(values)
        model = keras.Model(inputs, values, name="nested_augmented")
    batch_norm = model.get_layer("batch_norm")  # moving statistics far from a fresh layer's, so a mode shows
    gamma, beta, mean, variance = batch_norm.get_weights()
    batch_norm.set_weights([gamma * 2, beta + 0.5, mean + 0.3, variance * 3])
    return model


def random_images(count: int, size: int = SIZE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype("float32")


@pytest.mark.parametrize("nested", [False, True])
def test_the_walk_runs_every_layer_in_inference_mode(nested):
    import keras

    from visconvnets.explain.attribution import attribute
    from visconvnets.explain.cams import cam
    from visconvnets.models.forward import forward, probabilities
    from visconvnets.models.layers import iter_layers

    model = augmented_model(nested)
    images = random_images(4)
    expected = np.asarray(model(images, training=False))
    leaves = [layer for layer in iter_layers(model) if not isinstance(layer, (keras.Model, keras.layers.InputLayer))]
    output, recorded = forward(model, images, taps=[layer.name for layer in leaves])
    np.testing.assert_allclose(np.asarray(output), expected, atol=1e-5)
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(probabilities(model, images), expected, atol=1e-5)
    augmentation = model.get_layer("augmentation") if nested else None
    for layer in leaves:  # each tap equals a sub-model ending at that layer, called in inference mode
        owner = augmentation if augmentation is not None and layer in augmentation.layers else model
        sub_model = keras.Model(owner.inputs, layer.output)
        np.testing.assert_allclose(
            np.asarray(recorded[layer.name]), np.asarray(sub_model(images, training=False)), atol=1e-5
        )
    for augmenting in ("flip", "rotation", "zoom", "translation", "contrast"):  # the identity at inference
        np.testing.assert_allclose(np.asarray(recorded[augmenting]), images, atol=1e-4)
    first, second = cam(model, images, layer_name="conv"), cam(model, images, layer_name="conv")
    np.testing.assert_array_equal(first, second)
    assert first.max() > 0  # a real map, not two empty ones
    for method in ("saliency", "guided_backprop", "integrated_gradients"):
        options = {"steps": 4} if method == "integrated_gradients" else {}
        np.testing.assert_array_equal(
            attribute(model, images, method, **options), attribute(model, images, method, **options)
        )


def test_layers_that_are_the_identity_at_inference_are_never_the_cam_layer():
    from visconvnets.models.layer_choice import choose_cam_layer
    from visconvnets.models.layers import INFERENCE_IDENTITY_TYPES, is_identity_at_inference

    for nested in (False, True):
        model = augmented_model(nested)
        layer, reason = choose_cam_layer(model)
        assert layer == "pool", reason  # not the Dropout after it, whose output is the pooling's
        assert is_identity_at_inference(model.get_layer("dropout"))
    import keras

    augmentation, noisy = training_dependent_layers(keras.layers)
    others = [keras.layers.Dropout(0.5), keras.layers.RandomBrightness(0.3), keras.layers.RandomSaturation(0.5)]
    images = random_images(2)
    for layer in [*augmentation, *noisy[1:], *others]:  # each listed, and each really the identity at inference
        assert is_identity_at_inference(layer), layer.name
        np.testing.assert_allclose(np.asarray(layer(images, training=False)), images, atol=1e-3)
    assert keras.layers.RandomCrop not in INFERENCE_IDENTITY_TYPES  # it crops at inference
    assert not is_identity_at_inference(keras.layers.BatchNormalization())


def one_output_model(sigmoid: bool, size: int = SIZE):
    """Keras's "image classification from scratch" head: one unit, a logit or a sigmoid probability."""
    import keras

    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(1, activation="sigmoid" if sigmoid else None, name="score"),
        ],
        name="binary",
    )


@pytest.mark.parametrize("sigmoid", [False, True])
def test_a_one_output_binary_model_reads_as_two_classes(sigmoid):
    import keras

    from visconvnets.explain.cams import cam
    from visconvnets.explain.cams.base import activations_and_gradients
    from visconvnets.models.forward import forward, probabilities
    from visconvnets.models.heads import read_head

    model, images = one_output_model(sigmoid), random_images(5, seed=3)
    head = read_head(model)
    assert (head.kind, head.classes, head.squashed) == ("binary", 2, sigmoid)
    output = np.asarray(model(images, training=False), np.float64)[:, 0]
    second = output if sigmoid else 1 / (1 + np.exp(-output))
    found = probabilities(model, images)
    np.testing.assert_allclose(found, np.stack([1 - second, second], axis=1), atol=1e-6)
    scores, _ = forward(model, images, logits=True)  # (-z, z): the sigmoid's input either way
    pre_sigmoid = np.log(second / (1 - second))
    np.testing.assert_allclose(np.asarray(scores), np.stack([-pre_sigmoid, pre_sigmoid], axis=1), atol=1e-4)
    _, against, _, _ = activations_and_gradients(model, images, 0, "conv")
    _, for_second, _, _ = activations_and_gradients(model, images, 1, "conv")
    np.testing.assert_allclose(against, -for_second, atol=1e-7)  # the first class's evidence is against z
    assert cam(model, images, class_index=1, layer_name="conv").shape == (5, SIZE - 2, SIZE - 2)
    with pytest.raises(ValueError, match="class_index must be in \\[0, 1\\]"):
        cam(model, images, class_index=2, layer_name="conv")
    keras.utils.set_random_seed(0)
    softmax_one = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(1, "softmax")])
    with pytest.raises(ValueError, match="softmax over one output"):
        read_head(softmax_one)


def test_several_sigmoid_outputs_are_independent_probabilities_never_softmaxed():
    import keras

    from visconvnets.explain.cams import class_activation_maps
    from visconvnets.models.forward import forward, probabilities
    from visconvnets.models.heads import read_head

    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="sigmoid", name="labels"),
        ]
    )
    images = random_images(4, seed=5)
    assert read_head(model).kind == "multilabel"
    expected = np.asarray(model(images, training=False), np.float64)
    np.testing.assert_allclose(probabilities(model, images), expected, atol=1e-6)  # not 0.5002 / 0.4998
    scores, _ = forward(model, images, logits=True)
    np.testing.assert_allclose(1 / (1 + np.exp(-np.asarray(scores, np.float64))), expected, atol=1e-5)
    _, found, _ = class_activation_maps(model, images, None, "conv")
    np.testing.assert_allclose(found, expected, atol=1e-5)


def test_a_grayscale_model_takes_colour_photos_through_luma(tmp_path):
    import keras
    import tensorflow as tf

    from visconvnets.models.layer_choice import choose_cam_layer
    from visconvnets.models.saved import as_seen_by, load_trained_model

    keras.utils.set_random_seed(6)
    grey = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="grey",
    )
    grey.save(tmp_path / "grey.keras")
    model, classes = load_trained_model(tmp_path / "grey.keras", ["a", "b", "c"])
    assert model.input_shape == (None, SIZE, SIZE, 3) and classes == ["a", "b", "c"]
    images = random_images(3, seed=8)
    expected = grey.predict(tf.image.rgb_to_grayscale(images).numpy(), verbose=0)
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-4)
    assert choose_cam_layer(model)[0] == "pool"  # the user's own layer names, inside
    pattern = random_images(1, seed=2)  # a filter pattern as the ascent makes it, in RGB
    seen = as_seen_by(model, pattern)  # drawn as the grey model sees it
    np.testing.assert_allclose(seen[..., 0], seen[..., 2], atol=1e-4)
    np.testing.assert_allclose(seen[..., :1], tf.image.rgb_to_grayscale(pattern).numpy(), atol=1e-2)
    assert as_seen_by(one_output_model(False), pattern) is pattern  # a colour model's stay as they are
    keras.Sequential([keras.Input((SIZE, SIZE, 4)), keras.layers.Flatten(), keras.layers.Dense(2)]).save(
        tmp_path / "four.keras"
    )
    with pytest.raises(ValueError, match="four.keras.*takes 4-channel images"):
        load_trained_model(tmp_path / "four.keras")


def test_a_model_of_any_size_is_fed_the_image_size_and_a_non_square_one_is_refused():
    import keras

    from visconvnets.models.saved import input_side, model_notes

    keras.utils.set_random_seed(1)
    any_size = keras.Sequential(
        [
            keras.Input((None, None, 3)),
            keras.layers.Conv2D(2, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    assert input_side(any_size, 96) == 96
    assert any("feeds it 96x96" in note for note in model_notes(any_size, 96))
    wide = keras.Sequential([keras.Input((32, 48, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="takes 32x48 images"):
        input_side(wide, 96)


def test_attribute_reduces_each_method_as_cam_does_unless_told():
    from visconvnets.explain.attribution import attribute
    from visconvnets.explain.cams import cam

    model, images = one_output_model(False), random_images(2, seed=9)
    for method in ("saliency", "occlusion"):
        options = {"patch": 8, "stride": 8} if method == "occlusion" else {}
        own = attribute(model, images, method, class_index=1, **options)
        as_cam = cam(model, images, method, class_index=1, options={method: options})
        np.testing.assert_allclose(own, as_cam, atol=1e-6)
    summed = attribute(model, images, "saliency", class_index=1, reduce="abs_sum")
    assert not np.allclose(summed, attribute(model, images, "saliency", class_index=1), atol=1e-3)


def tutorial_model(kind: str, size: int = 75):
    """The Keras tutorials' CNN (augmentation inside, Rescaling, fused ReLUs, pooling, Dropout) with the head
    and input ``kind`` asks for."""
    import keras

    keras.utils.set_random_seed(5)
    layers = keras.layers
    shape = {"grey": (size, size, 1), "any_size": (None, None, 3)}.get(kind, (size, size, 3))
    head = {"binary": (1, None), "multilabel": (3, "sigmoid"), "augmented": (3, None)}.get(kind, (3, "softmax"))
    return keras.Sequential(
        [
            keras.Input(shape),
            *([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.1)]),
            layers.Rescaling(1 / 255),
            layers.Conv2D(8, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(16, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.2),
            layers.GlobalAveragePooling2D() if kind == "any_size" else layers.Flatten(),
            layers.Dense(head[0], activation=head[1]),
        ],
        name=f"tutorial_{kind}",
    )


def expected_probabilities(model, kind: str, images: np.ndarray) -> np.ndarray:
    """What ``model.predict`` says, read by hand as the README says each head is read."""
    import tensorflow as tf

    if kind == "grey":
        images = tf.image.rgb_to_grayscale(images).numpy()
    outputs = np.asarray(model.predict(images, verbose=0), np.float64)
    if kind == "binary":
        second = 1 / (1 + np.exp(-outputs[:, 0]))
        return np.stack([1 - second, second], axis=1)
    if kind == "augmented":  # logits
        shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)
    return outputs


@pytest.mark.parametrize("kind", ["augmented", "binary", "grey", "any_size", "multilabel"])
def test_user_models_run_and_every_section_shows_the_evaluations_predictions(kind, tiny_split, tmp_path, monkeypatch):
    from visconvnets.render import pictures
    from visconvnets.run import workflow

    data = tiny_split
    if kind == "binary":  # two class folders for one output
        data = tmp_path / "two"
        shutil.copytree(tiny_split, data)
        for part in ("train", "validation", "test"):
            shutil.rmtree(data / part / "tulip")
    model = tutorial_model(kind)
    path = tmp_path / "mine" / "model.keras"
    path.parent.mkdir()
    model.save(path)
    titles = []  # every panel's title, as drawn
    drawn = pictures.save_cam_panel

    def recording(original, maps, labels, title, *args, **kwargs):
        titles.append(title)
        return drawn(original, maps, labels, title, *args, **kwargs)

    monkeypatch.setattr(pictures, "save_cam_panel", recording)
    settings = dict(filters=False, concepts=False, activation_images=1, faithfulness=False, images_per_class=1)
    metrics = workflow.run(
        RunConfig(model=path, data=data, output=tmp_path / "out", verbose=0, image_size=75, **settings)
    )
    layout = outputs.RunLayout(tmp_path / "out")
    classes = metrics["classes"]
    rows = outputs.read_predictions_csv(layout / outputs.PREDICTIONS)
    written = {row["path"]: np.array([float(row[name]) for name in classes]) for row in rows}
    images = load_images([data / row["path"] for row in rows], 75)
    np.testing.assert_allclose(np.stack(list(written.values())), expected_probabilities(model, kind, images), atol=1e-4)
    import keras

    poolings = [layer.name for layer in model.layers if isinstance(layer, keras.layers.MaxPooling2D)]
    assert metrics["visualizations"]["gradcam_layer"] == poolings[-1]  # not the dropout after it
    failures = [title for title in titles if "true" in title and "), predicted" in title]
    assert len(failures) == metrics["visualizations"]["misclassified"] > 0  # an untrained model errs
    for title in titles:  # "<file>: true daisy (0.41), predicted rose (0.35)[; ...]"
        name = title.split(":")[0]
        row = next(values for key, values in written.items() if key.endswith("/" + name))
        predicted = classes[int(row.argmax())]
        assert f"predicted {predicted} ({row.max():.2f})" in title, (title, row)
    notes = " ".join(metrics.get("model_notes", []))
    assert {"binary": "read as two classes", "grey": "grayscale", "any_size": "75x75", "multilabel": "independent"}.get(
        kind, ""
    ) in notes
    with Image.open(layout / outputs.CONFUSION_MATRIX) as opened:
        opened.load()
    assert (layout / outputs.REPORT).is_file()


def test_the_epoch_callback_explains_in_inference_mode_while_fit_trains(tmp_path):
    """Augmentation and dropout inside the model: each epoch's probes are explained as ``model.predict`` sees
    them, between training steps that run them in training mode."""
    from visconvnets.explain.cams import contrasting_maps
    from visconvnets.train.callbacks import MAPS_FILE, ExplainEachEpoch

    model = augmented_model(nested=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images, labels = random_images(8, seed=4), np.arange(8) % 3
    probe = ExplainEachEpoch(images[:3], labels[:3], tmp_path, layer_name="conv")
    model.fit(images, labels, epochs=2, batch_size=4, verbose=0, callbacks=[probe])
    with np.load(tmp_path / "epochs" / "002" / MAPS_FILE) as saved:
        probabilities, true_maps = saved["probabilities"], saved["true"]
    np.testing.assert_allclose(probabilities, model.predict(images[:3], verbose=0), atol=1e-5)
    _, again, _, _ = contrasting_maps(model, images[:3], labels[:3], "conv", shared_scale=True)
    np.testing.assert_allclose(true_maps, again, atol=1e-5)
