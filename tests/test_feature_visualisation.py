"""Feature visualisation's parameterisations against what they must do: the Fourier image's inverse gives the
image back, and units built by hand to want a colour or an orientation get a pattern of that colour or
orientation from every parameterisation; the neuron objective draws only the centre cell's field."""

from __future__ import annotations

import numpy as np
import pytest

STEPS = 30  # enough for a one-layer unit; every parameterisation gets the same


@pytest.fixture(autouse=True)
def _steps_as_given(monkeypatch):
    """These ascents need their STEPS (the suite caps every ascent lower: $VISCONVNETS_MAX_STEPS)."""
    from visconvnets.explain.filters import MAX_STEPS_VARIABLE

    monkeypatch.setenv(MAX_STEPS_VARIABLE, str(STEPS))


def _hand_set_model(kernel: np.ndarray, activation=None, bias: float | None = None):
    """A convolution with the given (k, k, 3, filters) kernel (and ``bias`` for every filter) on open-sized
    0-255 images; ``activation="relu"`` fuses a ReLU into it, as the Keras tutorials build convolutions."""
    import keras

    inputs = keras.Input((None, None, 3))
    scaled = keras.layers.Rescaling(1 / 255.0)(inputs)
    layer = keras.layers.Conv2D(
        kernel.shape[-1], kernel.shape[0], activation=activation, use_bias=bias is not None, name="unit"
    )
    model = keras.Model(inputs, layer(scaled))
    weights = [kernel.astype(np.float32)]
    layer.set_weights(weights if bias is None else [*weights, np.full(kernel.shape[-1], bias, np.float32)])
    return model


def _colour_model(activation=None, bias: float | None = None):
    """Filter 0 wants red (R - G - B), filter 1 blue (B - R - G): a 1x1 convolution."""
    kernel = np.zeros((1, 1, 3, 2))
    kernel[0, 0, :, 0] = (1.0, -1.0, -1.0)
    kernel[0, 0, :, 1] = (-1.0, -1.0, 1.0)
    return _hand_set_model(kernel, activation, bias)


def _saturated(patterns: np.ndarray) -> float:
    """The share of pixels with a channel at 0 or 255 (as uint8 would store it)."""
    return float(np.mean(((patterns <= 0.5) | (patterns >= 254.5)).any(axis=-1)))


def test_the_fourier_inverse_gives_the_image_back():
    import tensorflow as tf

    from visconvnets.explain.parameterizations import fourier_image, fourier_inverse

    images = np.random.default_rng(0).uniform(5, 250, (2, 20, 20, 3)).astype(np.float32)
    real, imaginary = fourier_inverse(images)
    assert real.shape == imaginary.shape == (2, 3, 20, 11)
    drawn = fourier_image(tf.constant(real), tf.constant(imaginary), 20).numpy()
    np.testing.assert_allclose(drawn, images, atol=0.05)  # 0-255 scale
    odd = np.random.default_rng(1).uniform(5, 250, (1, 15, 15, 3)).astype(np.float32)  # odd sides too
    np.testing.assert_allclose(fourier_image(*map(tf.constant, fourier_inverse(odd)), 15).numpy(), odd, atol=0.05)


def test_the_natural_spectrum_falls_with_frequency_and_is_at_every_size():
    from visconvnets.explain.parameterizations import frequencies, natural_magnitude

    for size in (32, 75):
        magnitude = natural_magnitude(size)
        assert magnitude.shape == (3, size, size // 2 + 1) and (magnitude > 0).all()
        low, high = frequencies(size) < 0.1, frequencies(size) > 0.4
        assert (magnitude[:, low].mean(axis=1) > 5 * magnitude[:, high].mean(axis=1)).all()  # about 1 / f


@pytest.mark.parametrize("parameterization", ["pixel", "fourier", "maco"])
@pytest.mark.parametrize("activation", [None, "relu"])
def test_a_colour_unit_gets_its_colour_from_every_parameterization(parameterization, activation):
    """Behind a fused ReLU too, where both units are off on the grey starting image (R - G - B < 0)."""
    from visconvnets.explain.filters import ascend, filter_activations
    from visconvnets.settings.stages import AscentSettings

    model = _colour_model(activation)
    if activation:  # off at the start: no plain gradient reaches the image
        assert (filter_activations(model, "unit", np.full((2, 32, 32, 3), 128.0), [0, 1]) == 0).all()
    settings = AscentSettings(steps=STEPS, octaves=1, parameterization=parameterization)
    patterns = ascend(model, "unit", [0, 1], size=32, settings=settings, seed=1)
    assert patterns.shape == (2, 32, 32, 3) and np.isfinite(patterns).all()
    red, blue = patterns[0].mean(axis=(0, 1)), patterns[1].mean(axis=(0, 1))
    margin = 10 if parameterization == "maco" else 40  # maco: natural photos' energy, so muted colours
    assert red[0] > red[1] + margin and red[0] > red[2] + margin, red
    assert blue[2] > blue[0] + margin and blue[2] > blue[1] + margin, blue


@pytest.mark.parametrize("parameterization", ["pixel", "fourier", "maco"])
def test_an_edge_unit_gets_a_pattern_of_its_orientation(parameterization):
    """A 3x3 unit (ReLU) that wants dark-to-bright steps from left to right (vertical edges, in every colour):
    its pattern drives it more than the same pattern turned a quarter (MaCo's magnitude is the same in every
    direction, so only where its phases line up can show the orientation)."""
    from visconvnets.explain.filters import ascend, filter_activations
    from visconvnets.settings.stages import AscentSettings

    kernel = np.zeros((3, 3, 3, 1))
    kernel[:, 0, :, 0], kernel[:, 2, :, 0] = -1.0, 1.0
    model = _hand_set_model(kernel, "relu")
    settings = AscentSettings(steps=STEPS, octaves=1, parameterization=parameterization)
    pattern = ascend(model, "unit", [0], size=32, settings=settings, seed=2)
    turned = np.rot90(pattern, axes=(1, 2)).copy()  # vertical edges become horizontal ones
    upright, across = filter_activations(model, "unit", np.concatenate([pattern, turned]), [0, 0])
    assert upright > 1.2 * across and upright > 0.25, (upright, across)


def test_the_neuron_objective_draws_only_the_centre_cells_field():
    from visconvnets.explain.filters import ascend
    from visconvnets.settings.stages import AscentSettings

    kernel = np.zeros((3, 3, 3, 1))
    kernel[:, :, 0, 0], kernel[:, :, 1:, 0] = 1.0, -1.0  # wants red in its 3x3 field
    settings = AscentSettings(steps=STEPS, octaves=1, objective="neuron", jitter=0)  # the field stays put
    pattern = ascend(_hand_set_model(kernel), "unit", [0], size=32, settings=settings, seed=3)[0]
    redness = pattern[..., 0] - pattern[..., 1:].mean(axis=-1)  # (32, 32)
    centre = redness[15:18, 15:18].mean()  # the centre cell (15, 15) of the 30x30 map: input rows 15-17
    corners = np.concatenate([redness[:8, :8].ravel(), redness[-8:, -8:].ravel()]).mean()
    assert centre > corners + 80, (centre, corners)


@pytest.mark.parametrize("parameterization", ["pixel", "fourier"])
@pytest.mark.parametrize("objective", ["channel", "direction"])
def test_a_unit_off_at_the_start_behind_a_fused_relu_gets_a_pattern_that_fires_it(parameterization, objective):
    """A red unit with a negative bias, zero everywhere on the starting image: the plain gradient never moves its
    pattern (value exactly 0); the redirected ReLU does, the off slope of the unit's own ReLU does (the default),
    and both together. Left out: MaCo (its fixed spectrum and standardised image cannot shift an image's
    overall colour that far) and the neuron objective of a 1x1 unit (one pixel, moved by the jitter each step,
    gets the whole gradient: 60 steps move it a few levels, with or without either change)."""
    from visconvnets.explain.filters import ascend, filter_activations
    from visconvnets.settings.stages import AscentSettings

    model = _colour_model("relu", bias=-0.1)
    mode = "neuron" if objective == "neuron" else "channel"
    directions = np.array([[1.0, 0.0]]) if objective == "direction" else None
    start = np.random.default_rng(0).normal(128, 20, (1, 32, 32, 3))
    assert filter_activations(model, "unit", start, [0], objective=mode, directions=directions)[0] == 0
    values = {}
    ways = {"plain": (False, 0.0), "redirected": (True, 0.0), "off slope": (False, 0.1), "both": (True, 0.1)}
    for way, (redirect, slope) in ways.items():
        settings = AscentSettings(
            steps=STEPS,
            octaves=1,
            parameterization=parameterization,
            objective=mode,
            redirect_relu=redirect,
            off_slope=slope,
        )
        pattern = ascend(model, "unit", [0], size=32, settings=settings, seed=4, directions=directions)
        values[way] = filter_activations(model, "unit", pattern, [0], objective=mode, directions=directions)[0]
    defaults = AscentSettings()
    assert (defaults.redirect_relu, defaults.off_slope) == ways["off slope"]
    assert values["plain"] == 0 and min(values["redirected"], values["off slope"], values["both"]) > 0, values


def test_unknown_parameterizations_and_objectives_are_refused():
    from visconvnets.explain.filters import ascend
    from visconvnets.settings.stages import AscentSettings

    with pytest.raises(ValueError, match="parameterization must be one of pixel, fourier, maco .* got 'wavelet'"):
        ascend(_colour_model(), "unit", [0], 32, AscentSettings(parameterization="wavelet"))
    with pytest.raises(ValueError, match="objective one of channel, neuron, got 'pixel', 'unit'"):
        ascend(_colour_model(), "unit", [0], 32, AscentSettings(parameterization="pixel", objective="unit"))


def test_the_settings_list_the_library_choices():
    """One list of names (settings.names), read by the ascent's check and the settings' check alike."""
    from visconvnets.explain import filters
    from visconvnets.settings import config, names

    assert filters.PARAMETERIZATIONS is names.PARAMETERIZATIONS and filters.OBJECTIVES is names.OBJECTIVES
    with pytest.raises(ValueError, match="--filter-parameterization must be one of pixel, fourier, maco"):
        config.VisualizationConfig(filter_parameterization="lucid").validate_pictures()


def test_pattern_percentiles_count_the_photos_below_the_pattern():
    """The red unit's mean over a flat photo is R - G - B (0-1 units): ten photos of known redness."""
    from visconvnets.explain.dataset_examples import pattern_percentiles

    redness = np.linspace(-0.9, 0.9, 10)  # -0.9, -0.7, ..., 0.9
    photos = np.zeros((10, 8, 8, 3), np.float32)
    photos[..., 0] = 255.0 * np.clip(redness, 0, None)[:, None, None]  # red ones: R only
    photos[..., 1] = 255.0 * np.clip(-redness, 0, None)[:, None, None]  # the others: G only
    patterns = np.zeros((2, 8, 8, 3), np.float32)
    patterns[0, ..., 0] = 255.0 * 0.6  # redness 0.6: above 8 of the 10 photos
    patterns[1, ..., 2] = 255.0  # blue unit: B - R - G = 1 against at most 0 on every photo
    found = pattern_percentiles(_colour_model(), "unit", [0, 1], patterns, photos)
    np.testing.assert_allclose(found, [80.0, 100.0])
    centre = pattern_percentiles(_colour_model(), "unit", [0, 1], patterns, photos, objective="neuron")
    np.testing.assert_allclose(centre, [80.0, 100.0])  # flat photos: the centre cell is the mean


@pytest.mark.parametrize("parameterization", ["pixel", "fourier"])
def test_a_layer_direction_is_ascended_like_the_channels_it_mixes(parameterization):
    """One-hot directions draw exactly the channel objective's patterns; the direction red + blue of the colour
    model draws magenta (red and blue both well above green); a direction of the wrong width is refused."""
    from visconvnets.explain.filters import ascend, filter_activations
    from visconvnets.settings.stages import AscentSettings

    model, settings = _colour_model(), AscentSettings(steps=STEPS, octaves=1, parameterization=parameterization)
    channels = ascend(model, "unit", [0, 1], size=32, settings=settings, seed=1)
    one_hot = ascend(model, "unit", [1, 0], size=32, settings=settings, seed=1, directions=np.eye(2)[::-1])
    np.testing.assert_allclose(one_hot, channels, atol=1e-4)
    primaries = _hand_set_model(np.eye(3).reshape(1, 1, 3, 3))  # filter k: colour k alone
    directions = np.array([[1.0, -1.0, 1.0]])  # red + blue - green
    mixed = ascend(primaries, "unit", [0], size=32, settings=settings, seed=1, directions=directions)
    red, green, blue = mixed[0].mean(axis=(0, 1))
    assert red > green + 40 and blue > green + 40, (red, green, blue)  # magenta
    value = filter_activations(primaries, "unit", mixed, [0], directions=directions)[0]
    by_hand = filter_activations(primaries, "unit", np.repeat(mixed, 3, axis=0), [0, 1, 2]) @ directions[0]
    assert value == pytest.approx(by_hand, rel=1e-5)  # the direction's value: the channels' values, mixed
    with pytest.raises(ValueError, match="directions must be \\(count, 2\\) for layer 'unit', got shape \\(1, 3\\)"):
        ascend(model, "unit", [0], size=32, settings=settings, directions=np.ones((1, 3)))


def test_the_tapped_units_relu_is_replaced_and_only_that_one():
    """``tap_relu`` runs in place of a tapped layer's fused ReLU or of a tapped ReLU layer, not elsewhere; with
    the off slope, the value is the unit's own and the gradient reaches cells where the unit is off."""
    import keras
    import tensorflow as tf

    from visconvnets.explain.relus import objective_relu
    from visconvnets.models.forward import forward

    inputs = keras.Input((8, 8, 3))
    fused = keras.layers.Conv2D(2, 3, activation="relu", name="fused")(inputs)
    linear = keras.layers.Conv2D(2, 1, name="linear")(fused)
    separate = keras.layers.ReLU(name="separate")(linear)
    model = keras.Model(inputs, separate)
    images = tf.constant(np.random.default_rng(0).normal(0, 1, (2, 8, 8, 3)).astype(np.float32))
    kernel, bias = model.get_layer("fused").get_weights()
    pre = np.asarray(keras.ops.conv(images, kernel)) + bias
    assert (pre < 0).any() and (pre > 0).any()  # so the test tells the ReLUs apart
    _, marked = forward(model, images, taps=["fused"], tap_relu=lambda values: values - 100.0)  # a marker
    np.testing.assert_allclose(np.asarray(marked["fused"]), pre - 100.0, atol=1e-4)
    _, found = forward(model, images, taps=["fused", "separate"], tap_relu=objective_relu(0.1))
    _, plain = forward(model, images, taps=["fused", "separate"])
    for name in ("fused", "separate"):  # the values are the units' own
        np.testing.assert_allclose(np.asarray(found[name]), np.asarray(plain[name]), atol=1e-5)
    with tf.GradientTape() as tape:
        tape.watch(images)
        _, found = forward(model, images, taps=["fused"], tap_relu=objective_relu(0.1), stop_after_taps=True)
        total = tf.reduce_sum(found["fused"])
    expected = np.where(pre > 0, 1.0, 0.1).astype(np.float32)  # d total / d pre: 1 where on, the slope where off
    by_hand = np.asarray(keras.ops.conv_transpose(expected, kernel, strides=1, padding="valid"))
    np.testing.assert_allclose(np.asarray(tape.gradient(total, images)), by_hand, atol=1e-4)


def test_a_pattern_that_leaves_its_unit_at_zero_is_reported_and_never_drawn(tmp_path):
    """A unit no input can fire (zero weights, negative bias): its pattern value is 0, ``blank`` says so, the
    sheet draws a plain grey square (the same sheet whatever the pattern), index.json and the health box
    name it."""
    from PIL import Image

    from visconvnets.explain.units import describe_units
    from visconvnets.render.pictures.units import BLANK_GREY, save_unit_sheet
    from visconvnets.run.units import _entry
    from visconvnets.scores.health import _pattern_checks
    from visconvnets.settings import outputs
    from visconvnets.settings.stages import AscentSettings

    kernel = np.zeros((1, 1, 3, 2))
    kernel[0, 0, :, 0] = (1.0, -1.0, -1.0)  # filter 0: red, fires; filter 1: all zero weights
    model = _hand_set_model(kernel, "relu", bias=0.0)
    weights = model.get_layer("unit").get_weights()
    model.get_layer("unit").set_weights([weights[0], np.array([0.0, -1.0], np.float32)])
    units = describe_units(model, {"unit": [0, 1]}, None, 32, AscentSettings(steps=STEPS, octaves=1))["unit"]
    assert units.pattern_values[0] > 0 and units.pattern_values[1] == 0
    assert units.blank.tolist() == [False, True]
    entry = _entry("unit", units, tmp_path / "unit.jpg", None)
    assert entry["blank"] == [1]
    drawn = save_unit_sheet(units.patterns, [0, 1], tmp_path / "drawn.jpg", "t", blank=units.blank)
    grey = units.patterns.copy()
    grey[1] = BLANK_GREY
    plain = save_unit_sheet(grey, [0, 1], tmp_path / "grey.jpg", "t", blank=units.blank)
    with Image.open(drawn) as first, Image.open(plain) as second:
        np.testing.assert_array_equal(np.asarray(first), np.asarray(second))  # the pattern itself is not drawn
    folder = tmp_path / "run" / outputs.FILTERS
    folder.mkdir(parents=True)
    outputs.write_json(folder / outputs.GRID_INDEX, {"layers": [entry | {"at_99th": 1.0}]})
    messages = [item["message"] for item in _pattern_checks(tmp_path / "run")]
    assert len(messages) == 1 and "leave their unit at exactly 0: unit (1 of 2)" in messages[0]
