"""--precision: the choice per machine, a mixed-precision model that keeps float32 where it matters,
and pictures of a bf16 model that agree with those of the same weights in float32."""

from __future__ import annotations

import json

import numpy as np
import pytest

from visconvnets.train import devices


@pytest.fixture
def no_gpu(monkeypatch):
    import tensorflow as tf

    real = tf.config.list_physical_devices
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [] if kind == "GPU" else real(kind))


def test_auto_precision_follows_the_cpu_flags(tmp_path, no_gpu, monkeypatch):
    with_bf16 = tmp_path / "bf16"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n")
    without = tmp_path / "plain"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n")
    assert devices.cpu_has_bfloat16(with_bf16) and not devices.cpu_has_bfloat16(without)
    assert not devices.cpu_has_bfloat16(tmp_path / "missing")  # macOS, Windows: no /proc/cpuinfo
    monkeypatch.setattr(devices, "cpu_has_bfloat16", lambda: True)
    assert devices.resolve_precision("auto") == "mixed_bfloat16"
    monkeypatch.setattr(devices, "cpu_has_bfloat16", lambda: False)
    assert devices.resolve_precision("auto") == "float32"
    assert devices.resolve_precision("mixed_float16") == "mixed_float16"  # given: kept as it is


def test_auto_precision_picks_float16_with_a_gpu(monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["gpu:0"] if kind == "GPU" else [])
    assert devices.resolve_precision("auto") == "mixed_float16"


def test_mixed_model_computes_in_bf16_and_keeps_weights_and_softmax_float32():
    import keras

    from visconvnets.models.build import build_model

    model = build_model(3, 75, None, precision="mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"  # the process's policy is put back
    convolutions = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convolutions) == 94 and all(layer.compute_dtype == "bfloat16" for layer in convolutions)
    assert {weight.dtype for weight in model.weights} == {"float32"}
    assert model.get_layer("predictions").compute_dtype == "float32"
    probabilities = model.predict_on_batch(np.full((2, 75, 75, 3), 100.0, np.float32))
    assert probabilities.dtype == np.float32 and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)


def test_bf16_pictures_match_float32_pictures_of_the_same_weights():
    """Taps come back float32, gradients reach them, and Grad-CAM of the bf16 model is the float32 map
    within bf16 rounding; the class probabilities too."""
    import keras

    from visconvnets.explain.cams import cam
    from visconvnets.models.build import build_model
    from visconvnets.models.forward import forward

    keras.utils.set_random_seed(3)
    reference = build_model(3, 75, None, batch_norm_momentum=0.9)
    mixed = build_model(3, 75, None, batch_norm_momentum=0.9, precision="mixed_bfloat16")
    mixed.set_weights(reference.get_weights())
    images = np.random.default_rng(3).uniform(0, 255, (4, 75, 75, 3)).astype(np.float32)
    output, taps = forward(mixed, images, taps=["mixed2"])
    assert (
        output.dtype == "float32" and taps["mixed2"].dtype == "float32" and tuple(taps["mixed2"].shape[1:3]) == (7, 7)
    )
    for method in ("gradcam", "layercam"):
        reference_maps = cam(reference, images, method, [0, 1, 2, 0], "mixed2")
        mixed_maps = cam(mixed, images, method, [0, 1, 2, 0], "mixed2")
        assert mixed_maps.dtype == np.float32 and mixed_maps.shape == reference_maps.shape == (4, 7, 7)
        # an untrained net's Grad-CAM can be all zero (no positive evidence); bf16 rounding may then
        # leave a faint map: compare the maps that have a shape in float32
        shaped = reference_maps.std(axis=(1, 2)) > 0.05
        assert shaped.sum() >= 2, method
        for reference_map, mixed_map in zip(reference_maps[shaped], mixed_maps[shaped]):
            assert np.corrcoef(reference_map.ravel(), mixed_map.ravel())[0, 1] > 0.9, method
    assert np.abs(reference.predict_on_batch(images) - mixed.predict_on_batch(images)).max() < 0.05


@pytest.mark.xdist_group("demo_run")  # one worker builds the shared run
def test_demo_records_the_precision_it_used(demo_run, tmp_path):
    """config.json holds the resolved precision (never "auto"), and the saved model computes in it: the demo's
    float32 (bf16 ended demos on a NaN loss on an AMX CPU), and "auto" given explicitly is saved resolved."""
    import keras

    from visconvnets.run.workflow import resolve_settings
    from visconvnets.settings.config import DEMO_SETTINGS, demo_preset

    output, _ = demo_run
    used = json.loads((output / "config.json").read_text())["config"]["precision"]
    assert used == DEMO_SETTINGS["precision"] == "float32"
    model = keras.models.load_model(output / "model.keras", compile=False)
    assert model.get_layer("mixed0").compute_dtype == "float32"
    resolved, _ = resolve_settings(demo_preset(output=tmp_path, precision="auto"))
    assert resolved.precision == devices.resolve_precision("auto") != "auto"


def test_precision_flags_and_the_old_alias():
    import model_training_and_visualization as script
    from visconvnets.settings.config import RunConfig

    assert script.settings_given(script.parse_args([])).precision == "auto"
    assert script.parse_args(["--mixed-precision"]).precision == "mixed_float16"  # the old flag still works
    assert script.parse_args(["--precision", "float32"]).precision == "float32"
    assert script.explicit_settings(["--mixed-precision"]) == {"precision"}
    with pytest.raises(SystemExit):
        script.parse_args(["--precision", "float8"])
    with pytest.raises(
        ValueError, match="--precision must be one of auto, float32, mixed_bfloat16, mixed_float16, got 'half'"
    ):
        RunConfig(data="somewhere", precision="half").validate()
