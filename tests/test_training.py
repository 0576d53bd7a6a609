"""Training half: tiny runs (75 px, 3 classes x 10 images, --weights none) and the recipe's guarantees."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visconvnets.data import folders as data_tools
from visconvnets.data import pipelines
from visconvnets.data.images import load_images
from visconvnets.models import keras_internals
from visconvnets.models.saved import load_trained_model
from visconvnets.run import workflow
from visconvnets.settings import outputs
from visconvnets.settings.backbones import get_backbone
from visconvnets.settings.config import RunConfig

from .conftest import tiny_config, tiny_script_command

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NO_PICTURES = dict(activations=False, filters=False, gradcam=False)  # for tests that check training only


@pytest.mark.xdist_group("trained_run")  # one worker builds the shared run
def test_saved_model_reloads_and_predicts_as_before_saving(trained_run, tiny_split):
    output, metrics = trained_run
    model, classes = load_trained_model(output / "model.keras")
    assert classes == ["daisy", "rose", "tulip"] == metrics["classes"]
    rows = outputs.read_predictions_csv(output / "test_predictions.csv")
    assert len(rows) == 6
    images = load_images([tiny_split / row["path"] for row in rows], 75)
    reloaded = model.predict(images, verbose=0)
    before_saving = np.array([[float(row[name]) for name in classes] for row in rows])
    np.testing.assert_allclose(reloaded, before_saving, atol=1e-5)
    assert model.get_layer("preprocess") is not None  # scaling travels inside the model


@pytest.mark.xdist_group("trained_run")  # one worker builds the shared run
def test_metrics_match_a_recomputation(trained_run, tiny_split):
    output, _ = trained_run
    metrics = json.loads((output / "metrics.json").read_text())
    model, classes = load_trained_model(output / "model.keras")
    split_files = data_tools.scan_split_folder(tiny_split)
    images = load_images(split_files.paths["test"], 75)
    labels = np.array(split_files.labels["test"])
    probabilities = model.predict(images, verbose=0)
    accuracy = float((probabilities.argmax(1) == labels).mean())
    loss = float(-np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1)).mean())
    test = metrics["test"]
    assert test["accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert test["loss"] == pytest.approx(loss, rel=1e-4)
    confusion = np.array(test["confusion_matrix"])
    assert confusion.shape == (3, 3) and confusion.sum() == 6 == test["count"]
    assert confusion.sum(axis=1).tolist() == [2, 2, 2]  # rows are true classes
    assert np.trace(confusion) / confusion.sum() == pytest.approx(test["accuracy"])
    expected = np.zeros((3, 3), int)
    np.add.at(expected, (labels, probabilities.argmax(1)), 1)
    assert confusion.tolist() == expected.tolist()
    assert set(test["per_class"]) == set(classes)


@pytest.mark.xdist_group("trained_run")  # one worker builds the shared run
def test_history_curves_config(trained_run):
    output, metrics = trained_run
    history = (output / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,phase,loss,accuracy,val_loss,val_accuracy")
    assert [line.split(",")[:2] for line in history[1:]] == [["1", "scratch"], ["2", "scratch"]]
    for name in ("training_curves.png", "confusion_matrix.png"):
        with Image.open(output / name) as picture:
            picture.load()
            assert picture.width > 300 and picture.height > 200
    config = json.loads((output / "config.json").read_text())
    assert config["config"]["image_size"] == 75 and config["versions"]["tensorflow"]
    assert metrics["trained_from_scratch"] is True
    assert not (output / "training_state").exists()


@pytest.mark.xdist_group("trained_run")  # one worker builds the shared run
def test_finished_run_is_not_overwritten(trained_run, tiny_split):
    output, _ = trained_run
    with pytest.raises(ValueError, match="already holds a finished run"):
        workflow.run(tiny_config(tiny_split, output))


@pytest.mark.parametrize(
    ("moment", "trained_again"),
    [("after epoch 2's backup", [3]), ("in epoch 2's end, before its backup", [2, 3])],
)
def test_resume_continues_epoch_count(tiny_split, tmp_path, monkeypatch, moment, trained_again):
    """Killed after epoch 2 was backed up, the same call trains only epoch 3; killed while epoch 2's end
    callbacks ran (its row already written, its backup not), epoch 2 is redone. Each row once."""
    import keras

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2 and moment.startswith("after"):
                raise KeyboardInterrupt("simulated kill at the start of epoch 3")

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1 and moment.startswith("in"):
                raise KeyboardInterrupt("simulated kill before epoch 2's backup")

    original = keras.callbacks.TerminateOnNaN
    monkeypatch.setattr(keras.callbacks, "TerminateOnNaN", Interrupt)  # runs after history, before the backup
    # VGG16: the resume mechanism is the same for every backbone, and its 21-layer graph traces in seconds
    config = tiny_config(tiny_split, tmp_path / "run", epochs=3, validation=False, backbone="VGG16", **NO_PICTURES)
    with pytest.raises(KeyboardInterrupt):
        workflow.run(config)
    rows = [line.split(",")[0] for line in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]
    assert rows == ["1", "2"]
    assert not (tmp_path / "run" / "model.keras").exists()
    monkeypatch.setattr(keras.callbacks, "TerminateOnNaN", original)
    epochs_seen = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs_seen.append(epoch + 1)

    real_fit = keras.Model.fit

    def watched_fit(self, *args, **kwargs):
        kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [Watch()]
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", watched_fit)
    workflow.run(config)
    assert epochs_seen == trained_again
    rows = [line.split(",")[:2] for line in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]
    assert rows == [["1", "scratch"], ["2", "scratch"], ["3", "scratch"]]
    assert (tmp_path / "run" / "model.keras").exists()


@pytest.mark.parametrize(("every_seconds", "current", "previous"), [(0, 4, 3), (60, 4, 2), (3600, -1, -1)])
def test_backups_are_spaced_in_time_and_skip_the_last_epoch(tmp_path, monkeypatch, every_seconds, current, previous):
    """Epochs of 35 s (a fake clock): every epoch but the last is backed up with 0; with 60 s, the ends at 70 and
    140 s (epochs 2 and 4); with an hour, none. The backup resumes from the epoch after the one it holds."""
    import keras

    from visconvnets.models import keras_internals
    from visconvnets.train import recipe

    clock = [0.0]
    monkeypatch.setattr(recipe.time, "monotonic", lambda: clock[0])

    class Epochs35Seconds(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            clock[0] += 35.0

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    backup = recipe.SpacedBackup(tmp_path / "backup", every_seconds)
    data = (np.zeros((8, 4), np.float32), np.zeros(8, np.int64))
    model.fit(*data, epochs=5, verbose=0, callbacks=[Epochs35Seconds(), backup])
    assert keras_internals.backup_epoch(tmp_path / "backup") == current
    assert keras_internals.backup_epoch(tmp_path / "backup", previous=True) == previous


def _broken_copy(tiny_split: Path, tmp_path: Path) -> Path:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_split, broken)
    return broken


def _without_validation(tiny_split: Path, tmp_path: Path) -> Path:
    broken = _broken_copy(tiny_split, tmp_path)
    shutil.rmtree(broken / "validation")
    return broken


def _test_without_rose(tiny_split: Path, tmp_path: Path) -> Path:
    broken = _broken_copy(tiny_split, tmp_path)
    shutil.rmtree(broken / "test" / "rose")
    return broken


def _test_emptied(tiny_split: Path, tmp_path: Path) -> Path:
    broken = _broken_copy(tiny_split, tmp_path)
    for folder in (broken / "test").iterdir():
        shutil.rmtree(folder)
        folder.mkdir()
    return broken


# (data maker (tiny split, tmp_path) -> data folder, settings, error, message)
BAD_RUNS = [
    pytest.param(lambda split, tmp: tmp / "missing", {}, FileNotFoundError, "does not exist", id="missing data"),
    pytest.param(_without_validation, {}, FileNotFoundError, "no validation folder", id="no validation"),
    pytest.param(
        _test_without_rose,
        {},
        ValueError,
        r"classes differ between splits: test/ has extra none and lacks \['rose'\]",
        id="classes differ",
    ),
    pytest.param(_test_emptied, {}, ValueError, "split 'test' .* has no usable images", id="empty test split"),
    pytest.param(lambda split, tmp: split, {"image_size": 74}, ValueError, "at least 75", id="image too small"),
    pytest.param(
        lambda split, tmp: split,
        {"concept_layer": "predictions"},
        ValueError,
        "--concept-layer 'predictions' has no \\(batch, h, w, channels\\) output",
        id="concept layer flat",
    ),
    pytest.param(
        lambda split, tmp: split,
        {"concept_count": 0},
        ValueError,
        "--concept-count, --concept-images and --concept-crops >= 1, got 9, 0, 24, 8",
        id="no concepts",
    ),
]


@pytest.mark.parametrize(("make_data", "settings", "error", "message"), BAD_RUNS)
def test_bad_inputs_fail_before_training(tiny_split, tmp_path, make_data, settings, error, message):
    with pytest.raises(error, match=message):
        workflow.run(tiny_config(make_data(tiny_split, tmp_path), tmp_path / "out", **settings))
    assert not (tmp_path / "out" / "model.keras").exists()


def test_a_nan_loss_stops_the_run_with_the_fix_before_any_picture(tiny_split, tmp_path, monkeypatch):
    """A run whose training ended on a NaN loss says so and what to try, and evaluates and draws nothing (its
    weights are not numbers: the map scores died on an SVD that did not converge)."""
    from visconvnets.train import recipe

    stopped = {"epochs_run": 1, "best_val_accuracy": None, "stopped": "loss became NaN in phase scratch"}
    monkeypatch.setattr(recipe, "train", lambda *args, **kwargs: stopped)
    config = tiny_config(tiny_split, tmp_path / "out", backbone="VGG16", epochs=1)
    with pytest.raises(RuntimeError, match="loss became NaN in phase scratch .*--restart and --precision float32"):
        workflow.run(config)
    assert not (tmp_path / "out" / "metrics.json").exists() and not (tmp_path / "out" / "index.html").exists()


def test_corrupt_file_is_skipped_and_reported(tiny_split, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_split, damaged)
    (damaged / "train" / "rose" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    split_files = data_tools.scan_split_folder(damaged)
    assert split_files.skipped == [("train/rose/broken.jpg", split_files.skipped[0][1])]
    assert "not an image" in split_files.skipped[0][1] or "corrupt" in split_files.skipped[0][1]
    assert split_files.counts()["train"] == {"daisy": 6, "rose": 6, "tulip": 6}


def test_imagenet_without_network_fails_fast_with_instructions(tiny_split, tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def offline(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(RuntimeError) as raised:
        workflow.run(tiny_config(tiny_split, tmp_path / "out", weights="imagenet"))
    message = str(raised.value)
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "keras_home" / "models") in message and "--weights none" in message
    assert not (tmp_path / "out" / "config.json").exists()  # failed before any work


def test_mirrored_strategy_on_two_logical_cpus(tiny_split, tmp_path):
    """Two logical CPUs as two replicas, with the decoded images cached on disk (--cache-dir)."""
    extra = ("--distribute", "mirrored", "--logical-cpus", "2", "--cache-dir", str(tmp_path / "cache"))
    command = tiny_script_command(tiny_split, tmp_path / "out", *extra)
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 replica(s)" in done.stdout
    assert list((tmp_path / "cache").glob("train-75px-*.index"))  # the first epoch wrote the cache
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert sum(map(sum, metrics["test"]["confusion_matrix"])) == 6


def _plain_backbone_weights(path: Path, legacy: bool) -> dict[str, list[np.ndarray]]:
    """Write a plain InceptionV3 (75 px, random init) weights file; return {conv/bn index: weights}
    keyed by position among weighted layers (names differ between models built in one process)."""
    import keras

    backbone = keras.applications.InceptionV3(include_top=False, weights=None, input_shape=(75, 75, 3))
    for layer in backbone.layers:  # make BN statistics distinguishable from a fresh model's
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.random.default_rng(0).normal(0, 0.1, layer.moving_mean.shape))
    if legacy:  # the format of Keras's ImageNet file
        keras_internals.save_legacy_h5_weights(backbone, path)
    else:
        backbone.save_weights(path)
    return [layer.get_weights() for layer in backbone.layers if layer.get_weights()]


def _weighted_backbone_layers(model):
    from visconvnets.models import build

    return [layer for layer in build.backbone_layers(model) if layer.get_weights()]


def test_weights_file_is_used_and_head_phase_leaves_backbone_unchanged(tiny_split, tmp_path):
    expected = _plain_backbone_weights(tmp_path / "backbone.weights.h5", legacy=False)
    workflow.run(
        tiny_config(
            tiny_split,
            tmp_path / "run",
            weights=str(tmp_path / "backbone.weights.h5"),
            epochs=1,
            fine_tune_epochs=0,
            validation=False,
            **NO_PICTURES,
        )
    )
    model, _ = load_trained_model(tmp_path / "run" / "model.keras")
    layers = _weighted_backbone_layers(model)
    assert len(layers) == len(expected) == 188  # 94 conv + 94 batch norm
    for layer, weights in zip(layers, expected):
        for got, want in zip(layer.get_weights(), weights):
            np.testing.assert_array_equal(got, want, err_msg=layer.name)
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]
    assert [line.split(",")[1] for line in history] == ["head"]


def test_imagenet_path_offline_and_fine_tune_trains_only_top_blocks(tiny_split, tmp_path, monkeypatch):
    """--weights imagenet with the file in Keras's cache (legacy .h5 like the real one): phase 2 changes
    blocks 9-10 only, and BatchNormalization statistics nowhere."""
    from visconvnets.models import layers as layer_tools

    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    expected = _plain_backbone_weights(cache / get_backbone("InceptionV3").weights_file, legacy=True)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    workflow.run(
        tiny_config(
            tiny_split,
            tmp_path / "run",
            weights="imagenet",
            epochs=1,
            fine_tune_epochs=1,
            validation=False,
            fine_tune_learning_rate=1e-2,
            **NO_PICTURES,
        )
    )
    model, _ = load_trained_model(tmp_path / "run" / "model.keras")
    top = set(layer_tools.layers_from_block(model, "mixed9"))
    changed_top, unchanged_bottom, top_convolutions = 0, 0, 0
    for layer, weights in zip(_weighted_backbone_layers(model), expected):
        same = all(np.array_equal(got, want) for got, want in zip(layer.get_weights(), weights))
        if type(layer).__name__ == "BatchNormalization":
            assert same, f"{layer.name}: batch-norm statistics must stay frozen"
        elif layer.name in top:
            top_convolutions += 1
            changed_top += not same
        else:
            assert same, f"{layer.name} is below mixed9's block and must stay frozen"
            unchanged_bottom += 1
    # InceptionV3: 94 convolutions, 9 in each of blocks 9 and 10. A few may get no gradient in 3 steps (dead ReLUs
    # at random init), so "most changed" is the claim; every one below stayed exactly as loaded.
    assert top_convolutions == 18 and unchanged_bottom == 76
    assert changed_top >= 12
    phases = [line.split(",")[:2] for line in (tmp_path / "run" / "history.csv").read_text().splitlines()[1:]]
    assert phases == [["1", "head"], ["2", "fine_tune"]]


@pytest.mark.xdist_group("trained_run")  # one worker builds the shared run
def test_visualizations_of_the_run_decode(trained_run):
    output, metrics = trained_run
    folders = sorted((output / "activations").iterdir())
    assert len(folders) == 5  # --activation-images 5 of the 6 chosen test images, one per class first
    assert {folder.name.split("_")[0] for folder in folders} == {"daisy", "rose", "tulip"}
    for folder in folders:
        assert len(list(folder.glob("*.jpg"))) == 188  # 94 Conv2D + 94 Activation
    assert sorted(path.name for path in (output / "filters").glob("*.jpg")) == sorted(
        f"{name}.jpg" for name in metrics["visualizations"]["filters"]
    )
    assert len(metrics["visualizations"]["filters"]) == 3
    assert len(list((output / "gradcam").glob("*.jpg"))) == 6
    wrong = sum(
        row["true"] != row["predicted"] for row in outputs.read_predictions_csv(output / "test_predictions.csv")
    )
    assert len(list((output / "misclassified").glob("*.jpg"))) == wrong == metrics["visualizations"]["misclassified"]
    for path in output.rglob("*.jpg"):
        with Image.open(path) as picture:
            picture.load()


@pytest.mark.xdist_group("trained_run")  # one worker builds the shared run
def test_visualise_a_saved_model_and_bad_visualization_input(trained_run, tiny_split, tmp_path):
    output, _ = trained_run
    again = workflow.run(
        RunConfig(
            model=output / "model.keras",
            data=tiny_split,
            output=tmp_path / "again",
            verbose=0,
            activations=False,
            filters=False,
            cam_method="gradcam++",
            gradcam_layer="mixed7",
            faithfulness=False,
        )
    )
    assert again["visualizations"]["gradcam"] == 6 and again["visualizations"]["gradcam_layer"] == "mixed7"
    assert again["test"]["count"] == 6 and "training" not in again
    with pytest.raises(ValueError, match="unknown layer 'mixed77'.*nearest names: mixed7"):
        workflow.run(tiny_config(tiny_split, tmp_path / "fresh", gradcam_layer="mixed77"))
    assert not (tmp_path / "fresh" / "history.csv").exists()  # rejected before training
    with pytest.raises(FileNotFoundError, match="nowhere.jpg"):
        workflow.run(
            RunConfig(model=output / "model.keras", output=tmp_path / "x", images=[tmp_path / "nowhere.jpg"], verbose=0)
        )


def test_multiworker_strategy_from_tf_config(tiny_split, tmp_path):
    """A one-worker cluster on loopback: MultiWorkerMirroredStrategy driven by TF_CONFIG trains and writes."""
    import os
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = dict(
        os.environ,
        TF_CONFIG=json.dumps({"cluster": {"worker": [f"127.0.0.1:{port}"]}, "task": {"type": "worker", "index": 0}}),
    )
    command = tiny_script_command(tiny_split, tmp_path / "out", "--distribute", "multiworker")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=environment)
    assert done.returncode == 0, done.stderr[-3000:]
    history = (tmp_path / "out" / "history.csv").read_text().splitlines()
    assert len(history) == 2 and history[1].startswith("1,scratch,")
    assert (tmp_path / "out" / "model.keras").exists()
    with pytest.raises(ValueError, match="TF_CONFIG"):
        from visconvnets.train.devices import make_strategy

        saved = os.environ.pop("TF_CONFIG", None)
        try:
            make_strategy("multiworker")
        finally:
            if saved is not None:
                os.environ["TF_CONFIG"] = saved


def test_two_workers_on_loopback_train_one_model_and_only_the_chief_writes(tiny_split, tmp_path, monkeypatch):
    """Two worker processes (TF_CONFIG with two 127.0.0.1 ports, worker 0 the chief) on the same --output:
    both finish; OUT holds one run, written by the chief; the other worker's scratch folder is gone."""
    from visconvnets.train import devices

    command = tiny_script_command(tiny_split, tmp_path / "out", "--distribute", "multiworker", "--batch-size", "16")
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}})
    )
    scratch = devices.output_folder(tmp_path / "out")  # where worker 1 keeps its resume state
    monkeypatch.delenv("TF_CONFIG")
    processes = _two_workers(command)
    logs = [process.communicate(timeout=600)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], "\n".join(log[-2000:] for log in logs)
    assert "2 replica(s)" in logs[0] and "2 replica(s)" in logs[1]
    assert "report:" in logs[0] and "the chief writes" in logs[1] and "report:" not in logs[1]
    history = (tmp_path / "out" / "history.csv").read_text().splitlines()
    assert len(history) == 2 and history[1].startswith("1,scratch,")  # one epoch, written once
    assert (tmp_path / "out" / "model.keras").exists() and (tmp_path / "out" / "index.html").exists()
    assert scratch.name.startswith("visconvnets-worker1-") and not scratch.exists()  # used, then removed


@pytest.mark.xdist_group("trained_run")
def test_the_run_scores_its_maps_and_says_how_far_to_trust_them(trained_run):
    from visconvnets.settings.names import CAM_METHOD_NAMES

    output, metrics = trained_run
    faithfulness, sanity = metrics["faithfulness"], metrics["sanity"]
    assert faithfulness["layer"] == metrics["visualizations"]["gradcam_layer"] and faithfulness["count"] == 3
    assert sorted(faithfulness["methods"]) == sorted(CAM_METHOD_NAMES)
    pixel_methods = {"saliency", "smoothgrad", "integrated_gradients", "occlusion", "rise", "guided_backprop"}
    for name, row in faithfulness["methods"].items():
        assert row["baseline"] == (name in ("random", "centre", "sobel")) and row["pixels"] == (name in pixel_methods)
        assert row["seconds"] >= 0
        for key in ("deletion_auc", "insertion_auc", "road_combined"):
            low, high = row[key]["ci95"]
            assert low <= row[key]["mean"] <= high, (name, key)
        assert 0 <= row["deletion_auc"]["mean"] <= 1 and 0 <= row["insertion_auc"]["mean"] <= 1
    assert faithfulness["findings"][0].startswith("Removal check: every pixel removed by mean leaves p(class)")
    assert faithfulness["findings"][1].startswith("gradcam, deletion AUC")
    removal = faithfulness["removal"]
    assert removal["used"] == "mean" and list(removal["removals"]) == ["blur", "mean", "black", "impute"]
    assert all(0 <= found["removed"] <= 1 for found in removal["removals"].values())
    assert {"removal check", "map scores", "randomisation check"} <= set(metrics["timings"])
    from visconvnets.scores.faithfulness import HIGHER_IS_BETTER

    scores = [key for key in HIGHER_IS_BETTER if key in faithfulness["methods"]["gradcam"]]
    comparisons = faithfulness["comparisons"]
    assert len(comparisons) == (len(CAM_METHOD_NAMES) - 3) * 3 * len(scores)  # every method x baseline x score
    assert faithfulness["methods"]["gradcam"]["per_image"].keys() == set(scores)
    assert all(found["verdict"] in ("better", "worse", "undecided") for found in comparisons)
    # the run's method and the baselines on the 3 scored images, every other method on the first 2 of them
    assert {(found["method"] == "gradcam", found["images"]) for found in comparisons} == {(True, 3), (False, 2)}
    assert {
        name: row["images"] for name, row in faithfulness["methods"].items() if row["images"] == 3
    } == dict.fromkeys(("gradcam", "random", "centre", "sobel"), 3)
    assert sum("Decided: " in text for text in faithfulness["findings"]) == 1
    rows = (output / "map_scores.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 3 * 4 + 2 * (len(CAM_METHOD_NAMES) - 4)  # a row per image and method scored on it
    assert rows[0].startswith("image,method,baseline,deletion_auc")
    assert list(sanity["methods"]) == ["gradcam", "integrated_gradients", "guided_backprop"]  # the defaults
    assert len(sanity["steps"]) == 3 and sanity["steps"][:2] == ["head", "mixed10"]
    for name, row in sanity["methods"].items():
        assert len(row["spearman"]) == 3 and all(-1 <= value <= 1 for value in row["spearman"])
        assert row["shows_the_model"] == (row["spearman"][-1] < 0.5)
        assert sum(f"{name} ({row['spearman'][-1]:.2f})" in text for text in sanity["findings"]) == 1  # said once
    assert -1 <= sanity["class_correlation"] <= 1 and "runner-up class" in sanity["findings"][-1]
    for name in ("faithfulness.png", "sanity.png"):
        with Image.open(output / name) as picture:
            assert min(picture.size) > 300
    page = (output / "index.html").read_text(encoding="utf-8")
    assert "Can these maps be trusted?" in page and page.count("&#9733;</b>") == 3  # best of each of 3 columns
    assert page.count("<small>(pixels)</small>") == 6 and page.count("<small>(baseline)</small>") == 3
    assert 'src="faithfulness.png"' in page and 'src="sanity.png"' in page
    assert faithfulness["cells"] == [7, 7]  # mixed2 at 75 px
    similarity = faithfulness["map_similarity"]  # None when fewer than 2 maps are not flat (a model at chance)
    assert similarity is None or -1 <= similarity <= 1
    assert all(item["level"] in ("warning", "info") for item in metrics["health"])
    assert any("from scratch on 18 images for 2 epochs" in item["message"] for item in metrics["health"])
    assert "How far to trust this run" in page


@pytest.mark.xdist_group("trained_run")
def test_the_run_accounts_for_its_time(trained_run):
    output, metrics = trained_run
    timings = metrics["timings"]
    stages = ("data", "model", "training", "evaluation", "map scores", "activation grids", "filter patterns")
    for name in (*stages, "dataset examples", "concepts", "cam panels", "failure gallery"):
        assert timings[name] >= 0, name
    assert sum(timings[name] for name in stages) <= timings["total"]
    assert len(timings["epochs"]) == 2 and all(seconds > 0 for seconds in timings["epochs"])
    assert list(timings["first_steps"]) == ["scratch"] and timings["first_steps"]["scratch"] < sum(timings["epochs"])
    assert timings["training"] >= sum(timings["epochs"])
    header = (output / "history.csv").read_text().splitlines()[0].split(",")
    assert header[7:9] == ["seconds", "first_step_seconds"] and header[-1] == "explain_seconds"
    page = (output / "index.html").read_text(encoding="utf-8")
    assert "<b>Time:</b>" in page and "2 epochs of" in page and "graph tracing included: scratch" in page


@pytest.mark.xdist_group("trained_run")
def test_every_stage_has_its_passes_and_their_ratio(trained_run):
    """The cost model: every timed stage with its seconds, the model passes it ran and the ratio of the two;
    the counts are the images each stage is known to run (the probe's batches, 2 epochs of 18 images, one
    prediction per test image), the map scores both kinds, a stage without passes no ratio."""
    output, metrics = trained_run
    timings, costs = metrics["timings"], metrics["timings"]["costs"]
    timed = {name for name, value in timings.items() if isinstance(value, (int, float)) and name != "total"}
    assert timed == set(costs) and {"cost probe", "training", "map scores", "filter patterns"} <= timed
    for name in timed:
        assert (
            set(costs[name]) == {"seconds", "passes", "pass_seconds", "ratio"}
            and costs[name]["seconds"] == timings[name]
        )
    probe = timings["pass_costs"]
    assert probe["image_size"] == 75 and probe["forward"] > 0 and probe["gradient"] > 0
    assert costs["cost probe"]["passes"] == {"forward": 4.0 * probe["images"], "gradient": 4.0 * probe["images"]}
    assert costs["training"]["passes"]["training"] == 2 * 18
    assert costs["evaluation"]["passes"] == {"forward": float(np.sum(metrics["test"]["confusion_matrix"]))}
    scored = costs["map scores"]
    assert scored["passes"]["forward"] > 100 and scored["passes"]["gradient"] > 0 and scored["ratio"] > 0
    expected = scored["passes"]["forward"] * probe["forward"] + scored["passes"]["gradient"] * probe["gradient"]
    assert scored["pass_seconds"] == pytest.approx(expected, abs=0.02)
    assert costs["filter patterns"]["passes"]["gradient"] > 0  # ascent steps cut at the layer: a share of a pass
    assert costs["data"]["passes"] == {} and costs["data"]["ratio"] is None
    page = (output / "index.html").read_text(encoding="utf-8")
    assert f"map scores {timings['map scores']:.1f} s ({scored['ratio']:.1f}x its passes)" in page
    assert "the stage took twice what the model passes it ran cost on this machine" in page  # what a ratio means


@pytest.mark.xdist_group("trained_run")
def test_the_report_reads_in_depth_order_and_says_what_the_curves_show(trained_run):
    from visconvnets.models.build import default_filter_layers

    output, metrics = trained_run
    model, _ = load_trained_model(output / "model.keras")
    filters = metrics["visualizations"]["filters"]
    assert filters == default_filter_layers(model)  # shallowest first, not by name
    page = (output / "index.html").read_text(encoding="utf-8")
    positions = [page.index(f'src="filters/{name}.jpg"') for name in filters]
    assert positions == sorted(positions)
    first_cam = page[page.index('src="gradcam/') :].split(">", 1)[0]
    assert "lazy" not in first_cam  # near the top: loaded at once
    assert "train (solid) vs validation (dashed)." in page and "dotted lines" not in page  # one phase, validated


def test_every_augmentation_turned_off_trains_without_an_augmenter(tiny_split):
    """--rotation 0 --shift 0 --zoom 0 --no-flip: no augmentation layer at all (an empty Sequential
    cannot be built), and the training batches are the decoded images as they are."""
    from visconvnets.data.folders import scan_split_folder
    from visconvnets.data.pipelines import make_augmenter, make_dataset

    assert make_augmenter(0, 0, 0, False) is None
    assert len(make_augmenter(20, 0, 0, False).layers) == 1
    files = scan_split_folder(tiny_split)
    plain = make_dataset(files.paths["train"], files.labels["train"], 32, 4, training=True, augmenter=None, seed=1)
    images, labels = next(iter(plain))
    assert images.shape == (4, 32, 32, 3) and labels.shape == (4,) and float(images.numpy().max()) <= 255


def test_pipelines_run_without_the_autotuning_thread(tiny_split):
    """tf.data's autotuning thread is off (deleting an iterator could wait up to a minute for it: the
    "half-speed" training runs of BENCHMARKS.md); every image still comes once, in order when not training."""
    from visconvnets.data.folders import scan_split_folder
    from visconvnets.data.pipelines import make_augmenter, make_dataset

    files = scan_split_folder(tiny_split)
    paths, labels = files.paths["train"], files.labels["train"]
    training = make_dataset(paths, labels, 32, 4, training=True, augmenter=make_augmenter(seed=0), seed=3)
    in_order = make_dataset(paths, labels, 32, 3, cache=False)
    assert training.options().autotune.enabled is False and in_order.options().autotune.enabled is False
    assert sorted(np.concatenate([batch.numpy() for _, batch in training]).tolist()) == sorted(labels)
    assert np.concatenate([batch.numpy() for _, batch in in_order]).tolist() == list(labels)


def _two_workers(command: list[str]) -> list[subprocess.Popen]:
    """``command`` started as worker 0 (the chief) and worker 1 of a loopback cluster."""
    import os
    import socket

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return [
        subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(
                os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            ),
        )
        for index in range(2)
    ]


def test_a_killed_worker_then_both_restarted_resume_from_one_epoch(tiny_split, tmp_path):
    """kill -9 of worker 1 right after an epoch ends (its backup may lag the chief's), then of the chief;
    both started again agree on one epoch to resume from, finish, and history.csv has every epoch once."""
    import time

    output = tmp_path / "out"
    command = tiny_script_command(
        tiny_split, output, "--distribute", "multiworker", "--batch-size", "16", "--epochs", "3"
    )
    first = _two_workers(command)
    history = output / "history.csv"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and first[0].poll() is None:
        if history.exists() and len(history.read_text().splitlines()) >= 2:  # epoch 1 over
            break
        time.sleep(0.05)
    if first[0].poll() is not None:
        pytest.skip("the training finished before a worker could be killed")
    first[1].kill()
    time.sleep(0.5)
    first[0].kill()
    for process in first:
        process.communicate()
    again = _two_workers(command)
    logs = [process.communicate(timeout=600)[0] for process in again]
    assert [process.returncode for process in again] == [0, 0], "\n".join(log[-2000:] for log in logs)
    assert "(resuming)" in logs[0] and "report:" in logs[0]
    assert [line.split(",")[0] for line in history.read_text().splitlines()[1:]] == ["1", "2", "3"]


def test_disk_cache_serves_later_epochs_and_a_half_written_one_is_replaced(tiny_split, tmp_path, capsys):
    from visconvnets.train.fitting import disk_cache

    source = tmp_path / "images"
    shutil.copytree(tiny_split / "train", source)
    files = data_tools.scan_split_folder(tiny_split)
    paths = [source / Path(path).relative_to(tiny_split / "train") for path in files.paths["train"]]
    labels = files.labels["train"]
    prefix = disk_cache(tmp_path / "cache", "train", paths, 32)
    assert prefix.name.startswith("train-32px-") and prefix.parent.is_dir()
    dataset = pipelines.make_dataset(paths, labels, 32, 4, cache=prefix)
    first = np.concatenate([images.numpy() for images, _ in dataset])
    assert sorted(path.name for path in prefix.parent.iterdir() if path.name.startswith(prefix.name))  # on disk
    shutil.rmtree(source)  # the images are gone: a second epoch can only come from the cache
    second = np.concatenate([images.numpy() for images, _ in dataset])
    np.testing.assert_array_equal(first, second)
    assert disk_cache(tmp_path / "cache", "train", paths, 32) == prefix  # same files and size: same cache
    assert disk_cache(tmp_path / "cache", "train", paths, 48) != prefix
    (prefix.parent / f"{prefix.name}_0.lockfile").write_text("")  # as a killed first epoch leaves it
    disk_cache(tmp_path / "cache", "train", paths, 32)
    assert "removing the half-written cache" in capsys.readouterr().out
    assert not list(prefix.parent.glob(f"{prefix.name}*"))
