"""ExplainEachEpoch in a user's own model.fit: panels, maps, numbers in the logs, strips and GIFs,
every/last epochs, a resumed fit, TensorBoard events read back; and the training script's use of it."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from PIL import Image

from visconvnets.explain import cams
from visconvnets.scores.pointing import cam_drift, top_cells
from visconvnets.train.callbacks import ExplainEachEpoch, explained_epochs


def _user_model():
    """A user's own small CNN (not built by this project), (32, 32, 3) -> 3 classes."""
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="features_1")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="features_2")(x)  # 13x13 cells
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(count: int = 48):
    """Class = colour of a square at a random place; its box is known."""
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 60, (count, 32, 32, 3)).astype(np.float32)
    labels = np.arange(count) % 3
    boxes = []
    for image, label in zip(images, labels):
        top, left = rng.integers(2, 18, 2)
        image[top : top + 12, left : left + 12, label] = 250
        boxes.append((left, top, left + 12, top + 12))
    return images, labels, np.asarray(boxes, np.float64)


def test_drift_is_zero_for_the_same_maps_and_one_for_disjoint_tops():
    grid = np.arange(25, dtype=np.float32).reshape(1, 5, 5) / 24
    assert top_cells(grid).sum() == 5  # 20% of 25 cells
    assert cam_drift(grid, grid) == 0.0
    assert cam_drift(grid, grid[:, ::-1, ::-1]) == 1.0  # the top cells moved to the other corner
    zeros = np.zeros((2, 5, 5), np.float32)
    assert cam_drift(zeros, zeros) == 0.0  # no evidence twice: nothing moved
    assert cam_drift(np.concatenate([grid, grid]), np.concatenate([grid, zeros[:1]])) == 0.5


def test_callback_in_a_users_fit_writes_panels_numbers_strips_and_gifs(tmp_path):
    model = _user_model()
    images, labels, boxes = _data()
    probe = ExplainEachEpoch(images[:4], labels[:4], tmp_path, layer_name="features_2", boxes=boxes[:4])
    history = model.fit(images, labels, epochs=3, batch_size=16, verbose=0, callbacks=[probe])
    assert explained_epochs(tmp_path / "epochs") == [1, 2, 3]
    for number in (1, 2, 3):
        panels = sorted((tmp_path / "epochs" / f"{number:03d}").glob("*.jpg"))
        assert [path.stem for path in panels] == ["probe_00", "probe_01", "probe_02", "probe_03"]
        with Image.open(panels[0]) as panel:  # two 32-px overlays side by side under the text band
            assert panel.size == (360, 34 + 32)
        with np.load(tmp_path / "epochs" / f"{number:03d}" / "maps.npz") as saved:
            assert saved["true"].shape == saved["predicted"].shape == (4, 13, 13)
            probabilities = saved["probabilities"]
        accuracy = float(np.mean(probabilities.argmax(axis=1) == labels[:4]))
        assert history.history["probe_accuracy"][number - 1] == pytest.approx(accuracy)
    assert "cam_drift" not in history.history or len(history.history["cam_drift"]) == 2  # none at epoch 1
    drift = [value for value in history.history.get("cam_drift", [])]
    assert len(drift) == 2 and all(0 <= value <= 1 for value in drift)
    assert all(0 <= value <= 1 for value in history.history["pointing_game"])
    for name in ("probe_00", "probe_03"):
        with Image.open(tmp_path / "epochs" / f"{name}_strip.jpg") as strip:
            assert strip.width >= 3 * 32 and strip.height == 34 + 32 + 18
        with Image.open(tmp_path / "epochs" / f"{name}.gif") as gif:
            assert gif.n_frames == 3


def test_every_other_epoch_keeps_the_last_and_a_resumed_fit_redoes_later_epochs(tmp_path):
    model = _user_model()
    images, labels, _ = _data()
    probe = ExplainEachEpoch(images[:3], labels[:3], tmp_path, every=2)
    model.fit(images, labels, epochs=3, batch_size=16, verbose=0, callbacks=[probe])
    assert explained_epochs(tmp_path / "epochs") == [2, 3]  # every 2nd, and the last
    stale = tmp_path / "epochs" / "005"  # left by a killed attempt that got further
    stale.mkdir()
    np.savez(stale / "maps.npz", true=np.zeros((3, 13, 13)))
    model.fit(images, labels, initial_epoch=3, epochs=4, batch_size=16, verbose=0, callbacks=[probe])
    assert explained_epochs(tmp_path / "epochs") == [2, 3, 4]
    with Image.open(tmp_path / "epochs" / "probe_00.gif") as gif:
        assert gif.n_frames == 3


def test_tensorboard_events_hold_the_panels_and_the_numbers(tmp_path):
    import tensorflow as tf

    model = _user_model()
    images, labels, boxes = _data()
    probe = ExplainEachEpoch(images[:2], labels[:2], tmp_path, boxes=boxes[:2], tensorboard_dir=tmp_path / "tb")
    model.fit(images, labels, epochs=2, batch_size=16, verbose=0, callbacks=[probe])
    found = {}
    for event_file in (tmp_path / "tb" / "explain").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                found.setdefault(value.tag, []).append(event.step)
    assert found["probes"] == [1, 2] and found["probe_accuracy"] == [1, 2]
    assert found["cam_drift"] == [2] and found["pointing_game"] == [1, 2]


def test_bad_arguments_are_refused():
    images, labels, _ = _data(6)
    with pytest.raises(ValueError, match=r"labels must hold one class index per image \(6\)"):
        ExplainEachEpoch(images, labels[:5], "out")
    with pytest.raises(ValueError, match="unknown map method 'gradcam3'"):
        ExplainEachEpoch(images, labels, "out", method="gradcam3")
    with pytest.raises(ValueError, match="every must be at least 1, got 0"):
        ExplainEachEpoch(images, labels, "out", every=0)
    with pytest.raises(ValueError, match=r"boxes must be \(n, 4\) for 6 images"):
        ExplainEachEpoch(images, labels, "out", boxes=np.zeros((6, 3)))


@pytest.mark.xdist_group("trained_run")  # one worker builds the shared run
def test_training_script_writes_epoch_pictures_and_history_columns(trained_run):
    """The shared tiny run: one validation image per class explained after each of its 2 epochs."""
    output, metrics = trained_run
    with (output / "history.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert all(row["probe_accuracy"] != "" and float(row["explain_seconds"]) > 0 for row in rows)
    assert rows[0]["cam_drift"] == "" and 0 <= float(rows[1]["cam_drift"]) <= 1
    assert explained_epochs(output / "epochs") == [1, 2]
    strips = sorted((output / "epochs").glob("*_strip.jpg"))
    assert len(strips) == len(metrics["classes"])  # one probe per class
    page = (output / "index.html").read_text()
    assert "Training, epoch by epoch" in page and all(f"epochs/{strip.name}" in page for strip in strips)


def test_tensorboard_flag_without_the_package_fails_before_training(tiny_split, tmp_path, monkeypatch):
    import importlib.util

    from visconvnets.run import workflow

    from .conftest import tiny_config

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(RuntimeError, match="--tensorboard needs the tensorboard package"):
        workflow.run(tiny_config(tiny_split, tmp_path / "out", tensorboard=True))
    assert not (tmp_path / "out" / "history.csv").exists()  # stopped before the first epoch


@pytest.mark.xdist_group("trained_run")  # one worker builds the shared run
def test_tensorboard_flag_writes_keras_scalars_and_the_probes(trained_run):
    """--tensorboard (on in the shared run): Keras's own epoch scalars in train/, the probe panels and
    numbers in explain/, one step per epoch."""
    import tensorflow as tf

    output, metrics = trained_run
    found, matrices = {}, []
    for event_file in (output / "tensorboard").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                found.setdefault((event_file.parent.name, value.tag), set()).add(event.step)
                if value.tag == "validation_confusion_matrix":  # [width, height, PNG] as TF2 writes images
                    matrices.append(Image.open(io.BytesIO(value.tensor.string_val[2])))
    assert found[("train", "epoch_loss")] == {0, 1}  # Keras counts from 0
    assert found[("explain", "probes")] == {1, 2} and found[("explain", "probe_accuracy")] == {1, 2}
    # the validation confusion matrix at the end of the one phase (epoch 2), a real picture with ink on it
    assert found[("phases", "validation_confusion_matrix")] == {2}
    assert found[("phases", "validation_accuracy_at_phase_end")] == {2}
    assert len(matrices) == 1 and matrices[0].width > 200 and matrices[0].height > 200
    pixels = np.asarray(matrices[0].convert("L"))
    assert pixels.min() < 100 and pixels.max() > 200


def test_long_fits_trace_the_pass_and_match_the_eager_maps(tmp_path):
    from visconvnets.train.callbacks import TRACE_FROM_EPOCHS

    model = _user_model()
    images, labels, _ = _data(6)
    probe = ExplainEachEpoch(images, labels, tmp_path, layer_name="features_2")
    probe.set_model(model)
    probe.on_train_begin()
    probe.set_params({"epochs": 2, "verbose": 0, "steps": 1})
    probe.on_epoch_begin(0)
    assert not probe._traced  # a 2-epoch fit: eager passes
    eager = probe.explain()
    assert cams.traced_passes(model, "features_2") is None
    long_fit = ExplainEachEpoch(images, labels, tmp_path / "long", layer_name="features_2")
    long_fit.set_model(model)
    long_fit.on_train_begin()
    long_fit.set_params({"epochs": TRACE_FROM_EPOCHS + 3, "verbose": 0, "steps": 1})
    long_fit.on_epoch_begin(3)  # resumed at epoch 4: 5 epochs left to explain
    assert long_fit._traced
    traced = long_fit.explain()
    assert cams.traced_passes(model, "features_2") is not None  # registered: later passes reuse the trace
    assert not (eager[3] == labels).all()  # an untrained model: some probes wrong, so two classes explained
    for eager_part, traced_part in zip(eager, traced):
        np.testing.assert_allclose(eager_part, traced_part, atol=1e-4)
