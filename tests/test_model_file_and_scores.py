"""Issue 31, the parts that landed first: the model file a user shares holds the weights without the optimizer's
state; a loaded model's own input side is the side every check reads; the classification numbers come from
scikit-learn and the randomisation check's SSIM is windowed, both against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from .conftest import random_images


def test_the_saved_model_holds_the_weights_not_the_optimizer(tmp_path):
    """A compiled model (2.4 MB of weights) after a training step: ``model.save`` writes Adam's two slots per weight
    too (about 3x); ``OUT/model.keras`` is within 1.1x of the weights, loads uncompiled and predicts the same."""
    import keras

    from visconvnets.models.saved import load_trained_model, save_trained_model

    inputs = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(256, 3, activation="relu", name="first")(inputs)
    features = keras.layers.Conv2D(256, 3, activation="relu", name="second")(features)  # 590,080 weights
    scores = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(features))
    model = keras.Model(inputs, scores)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = random_images(4, int(model.input_shape[1]))
    model.fit(images, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    model.save(tmp_path / "with_optimizer.keras")
    path = save_trained_model(model, ["a", "b", "c"], tmp_path)
    weights = sum(variable.numpy().nbytes for variable in model.weights)
    assert (tmp_path / "with_optimizer.keras").stat().st_size > 2.5 * weights  # what today's users got
    assert path.stat().st_size < 1.1 * weights, (path.stat().st_size, weights)
    loaded, classes = load_trained_model(path)
    assert classes == ["a", "b", "c"] and not hasattr(loaded, "optimizer")
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


def test_a_loaded_models_own_side_is_checked_before_any_work(tiny_split, tmp_path):
    """--model at 128 px with --occlusion-patch 200: --image-size's 299 would allow it; the model's 128 does not,
    and the run stops before evaluating (no predictions, no metrics)."""
    import keras

    from visconvnets.run import workflow
    from visconvnets.settings import outputs
    from visconvnets.settings.config import RunConfig

    inputs = keras.Input((128, 128, 3))
    features = keras.layers.Conv2D(4, 3, activation="relu", name="features")(keras.layers.Rescaling(1 / 255)(inputs))
    outputs_ = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(features))
    path = tmp_path / "mine.keras"
    keras.Model(inputs, outputs_).save(path)
    output = tmp_path / "out"
    config = RunConfig(model=path, data=tiny_split, output=output, verbose=0, occlusion_patch=200)
    with pytest.raises(ValueError, match=r"at most the image side \(128 px, the input side of --model .*got 200"):
        workflow.run(config)
    assert not (output / outputs.PREDICTIONS).exists() and not (output / outputs.METRICS).exists()


def test_classification_numbers_by_hand_with_a_class_the_test_split_lacks():
    """Four images, three classes, the third never true: the confusion matrix keeps its row and column, its
    precision, recall and F1 are 0 (not NaN), and the loss is the mean -log p of the true class."""
    from visconvnets.scores.classification import classification_metrics

    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    found = classification_metrics(probabilities, np.array([0, 1, 1, 1]), ["a", "b", "c"])
    assert found["confusion_matrix"] == [[1, 0, 0], [1, 1, 1], [0, 0, 0]]
    assert found["accuracy"] == 0.5
    assert found["per_class"]["a"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert found["per_class"]["b"] == {"precision": 1.0, "recall": pytest.approx(1 / 3), "f1": 0.5, "support": 3}
    assert found["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert found["macro_f1"] == pytest.approx((2 / 3 + 0.5) / 3)
    assert found["loss"] == pytest.approx(-np.log([0.7, 0.8, 0.3, 0.2]).mean())
    empty = classification_metrics(np.zeros((0, 3)), np.zeros(0, int), ["a", "b", "c"])
    assert empty["count"] == 0 and empty["confusion_matrix"] == [[0] * 3] * 3 and np.isnan(empty["accuracy"])


def test_the_randomisation_checks_ssim_is_windowed():
    """The same maps: 1; inverted: below 0; 2x2 maps (a CAM at 75 px) get a window that fits; a ramp against the
    same ramp in steps: alike, not the same."""
    from visconvnets.scores.sanity import structural_similarity

    rng = np.random.default_rng(0)
    maps = rng.uniform(0, 1, (3, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(structural_similarity(maps, maps), 1.0, atol=1e-6)
    assert (structural_similarity(maps, 1 - maps) < 0).all()
    small = maps[:, :2, :2]
    np.testing.assert_allclose(structural_similarity(small, small), 1.0, atol=1e-6)
    smooth = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (1, 16, 1))  # (1, 16, 16) a left-to-right ramp
    blocky = np.repeat(np.repeat(smooth[:, ::4, ::4], 4, axis=1), 4, axis=2)  # the same ramp in 4-pixel steps
    assert 0.5 < structural_similarity(smooth, blocky)[0] < 1.0
