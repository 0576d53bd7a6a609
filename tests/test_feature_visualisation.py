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


def _hand_set_model(kernel: np.ndarray, activation=None):
    """A convolution with the given (k, k, 3, filters) kernel on open-sized 0-255 images."""
    import keras

    inputs = keras.Input((None, None, 3))
    scaled = keras.layers.Rescaling(1 / 255.0)(inputs)
    layer = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[0], activation=activation, use_bias=False, name="unit")
    model = keras.Model(inputs, layer(scaled))
    layer.set_weights([kernel.astype(np.float32)])
    return model


def _colour_model():
    """Filter 0 wants red (R - G - B), filter 1 blue (B - R - G): a 1x1 convolution."""
    kernel = np.zeros((1, 1, 3, 2))
    kernel[0, 0, :, 0] = (1.0, -1.0, -1.0)
    kernel[0, 0, :, 1] = (-1.0, -1.0, 1.0)
    return _hand_set_model(kernel)


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
def test_a_colour_unit_gets_its_colour_from_every_parameterization(parameterization):
    from visconvnets.explain.filters import ascend
    from visconvnets.settings.config import AscentSettings

    settings = AscentSettings(steps=STEPS, octaves=1, parameterization=parameterization)
    patterns = ascend(_colour_model(), "unit", [0, 1], size=32, settings=settings, seed=1)
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
    from visconvnets.settings.config import AscentSettings

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
    from visconvnets.settings.config import AscentSettings

    kernel = np.zeros((3, 3, 3, 1))
    kernel[:, :, 0, 0], kernel[:, :, 1:, 0] = 1.0, -1.0  # wants red in its 3x3 field
    settings = AscentSettings(steps=STEPS, octaves=1, objective="neuron", jitter=0)  # the field stays put
    pattern = ascend(_hand_set_model(kernel), "unit", [0], size=32, settings=settings, seed=3)[0]
    redness = pattern[..., 0] - pattern[..., 1:].mean(axis=-1)  # (32, 32)
    centre = redness[15:18, 15:18].mean()  # the centre cell (15, 15) of the 30x30 map: input rows 15-17
    corners = np.concatenate([redness[:8, :8].ravel(), redness[-8:, -8:].ravel()]).mean()
    assert centre > corners + 80, (centre, corners)


def test_unknown_parameterizations_and_objectives_are_refused():
    from visconvnets.explain.filters import ascend
    from visconvnets.settings.config import AscentSettings

    with pytest.raises(ValueError, match="parameterization must be one of pixel, fourier, maco .* got 'wavelet'"):
        ascend(_colour_model(), "unit", [0], 32, AscentSettings(parameterization="wavelet"))
    with pytest.raises(ValueError, match="objective one of channel, neuron, got 'pixel', 'unit'"):
        ascend(_colour_model(), "unit", [0], 32, AscentSettings(parameterization="pixel", objective="unit"))


def test_the_settings_list_the_library_choices():
    from visconvnets.explain.filters import OBJECTIVES
    from visconvnets.explain.parameterizations import PARAMETERIZATIONS
    from visconvnets.settings import config

    assert config.FILTER_PARAMETERIZATIONS == PARAMETERIZATIONS and config.OBJECTIVES == OBJECTIVES
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
    from visconvnets.settings.config import AscentSettings

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
