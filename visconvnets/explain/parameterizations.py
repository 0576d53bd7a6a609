"""How a feature visualisation's image is made from what the ascent optimises (arrays and tensors only).

* ``pixel``: the image itself (the blog's ascent, ``filters.ascend``).
* ``fourier`` (Olah et al., 2017, lucid): per colour channel, the real and imaginary parts of the image's
  2-D spectrum, each frequency scaled by 1 / frequency, so that a gradient step moves every frequency
  alike in the image (pixel steps are dominated by high frequencies); colours decorrelated with a fixed
  3x3 matrix (the square root of ImageNet's colour covariance), then a sigmoid to the input range.
* ``maco`` (Fel et al., 2023): only the spectrum's phase is optimised; its magnitude is fixed to that of
  natural photos (``natural_spectrum.json``: the radially averaged magnitude of the 150 CC-BY photos of
  ``shared/flowers-sample``, made by ``write_natural_spectrum``), so the pattern keeps natural images'
  energy at every frequency; the image standardised, decorrelated and squashed as ``fourier``'s.

Shapes: parameters (n, 3, S, S // 2 + 1) per real part (channels first, as ``tf.signal.rfft2d`` wants);
images (n, S, S, 3) in the model's 0-255 input scale.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

SPECTRUM_FILE = Path(__file__).with_name("natural_spectrum.json")
FOURIER_SCALE = 4.0  # lucid's divisor of the orthonormal inverse transform: sigmoid inputs of about +-1 at start
# the square root of ImageNet's RGB covariance (lucid's), columns scaled to unit norm at their largest
COLOUR_CORRELATION = np.asarray([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], np.float32)
COLOUR_MATRIX = COLOUR_CORRELATION / np.max(np.linalg.norm(COLOUR_CORRELATION, axis=0))
EDGE = 1e-4  # ``fourier_inverse`` keeps pixel values this far inside (0, 1): the sigmoid never reaches its ends


def frequencies(size: int) -> np.ndarray:
    """(S, S // 2 + 1) float32: each rfft2 coefficient's frequency in cycles per pixel."""
    rows = np.fft.fftfreq(size)[:, None]
    columns = np.fft.rfftfreq(size)[None, :]
    return np.sqrt(rows**2 + columns**2).astype(np.float32)


def spectrum_scale(size: int, decay: float = 1.0) -> np.ndarray:
    """(S, S // 2 + 1) float32: 1 / frequency ** ``decay`` (the lowest nonzero frequency for the constant)."""
    return (1.0 / np.maximum(frequencies(size), 1.0 / size) ** decay).astype(np.float32)


def _to_input_range(decorrelated):
    """(n, S, S, 3) unbounded, decorrelated colours -> (n, S, S, 3) in 0-255: the colour matrix, a sigmoid."""
    coloured = tf.einsum("nhwc,dc->nhwd", decorrelated, tf.constant(COLOUR_MATRIX))
    return 255.0 * tf.sigmoid(coloured)


def fourier_image(real, imaginary, size: int):
    """The image of a Fourier parameter pair, each (n, 3, S, S // 2 + 1): (n, S, S, 3) in 0-255."""
    scale = tf.constant(spectrum_scale(size))
    spectrum = tf.complex(real * scale, imaginary * scale)
    channels = tf.signal.irfft2d(spectrum, fft_length=[size, size]) * (size / FOURIER_SCALE)  # orthonormal / 4
    return _to_input_range(tf.transpose(channels, (0, 2, 3, 1)))


def fourier_inverse(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Fourier parameters (real, imaginary), each (n, 3, S, S // 2 + 1), whose ``fourier_image`` is
    ``images`` (n, S, S, 3) in 0-255 (values at 0 or 255 are moved ``EDGE`` inside: a sigmoid never gets there)."""
    images = np.asarray(images, np.float64)
    size = images.shape[1]
    share = np.clip(images / 255.0, EDGE, 1 - EDGE)
    coloured = np.log(share / (1 - share))  # the sigmoid undone
    decorrelated = coloured @ np.linalg.inv(COLOUR_MATRIX.astype(np.float64)).T  # the colour matrix undone
    spectrum = np.fft.rfft2(decorrelated.transpose(0, 3, 1, 2) * (FOURIER_SCALE / size), axes=(2, 3))
    spectrum /= spectrum_scale(size)
    return spectrum.real.astype(np.float32), spectrum.imag.astype(np.float32)


def natural_magnitude(size: int, spectrum_file: Path = SPECTRUM_FILE) -> np.ndarray:
    """(3, S, S // 2 + 1) float32: the natural photos' radial magnitude profile (``natural_spectrum.json``) at
    each coefficient's frequency, per decorrelated colour channel."""
    saved = json.loads(Path(spectrum_file).read_text(encoding="utf-8"))
    grid, profiles = np.asarray(saved["frequencies"]), np.asarray(saved["magnitude"])
    found = frequencies(size)
    return np.stack([np.interp(found, grid, profile) for profile in profiles]).astype(np.float32)


def maco_image(phase, magnitude):
    """The image of MaCo's phase (n, 3, S, S // 2 + 1) under a fixed ``magnitude`` (3, S, S // 2 + 1):
    the inverse transform standardised per image, then decorrelated and squashed: (n, S, S, 3) in 0-255."""
    size = int(magnitude.shape[1])
    spectrum = tf.complex(tf.cos(phase) * magnitude, tf.sin(phase) * magnitude)
    channels = tf.transpose(tf.signal.irfft2d(spectrum, fft_length=[size, size]), (0, 2, 3, 1))
    mean, variance = tf.nn.moments(channels, axes=(1, 2, 3), keepdims=True)
    return _to_input_range((channels - mean) / (tf.sqrt(variance) + 1e-8))


def write_natural_spectrum(photos: list[Path], target: Path = SPECTRUM_FILE, size: int = 128, bins: int = 48):
    """Average the radially binned rfft2 magnitude of ``photos`` (each resized to ``size``, colours
    decorrelated as the parameterisations draw them) into ``target`` (JSON: the frequencies, one profile per
    channel, and how it was made). Returns the profiles (3, bins)."""
    edges = np.linspace(0.0, float(frequencies(size).max()) + 1e-6, bins + 1)
    which = np.digitize(frequencies(size), edges) - 1  # (S, S // 2 + 1) bin of each coefficient
    totals = np.zeros((3, bins))
    for path in photos:
        with Image.open(path) as opened:
            pixels = np.asarray(opened.convert("RGB").resize((size, size), Image.BILINEAR), np.float64) / 255.0
        decorrelated = (pixels - pixels.mean(axis=(0, 1))) @ np.linalg.inv(COLOUR_MATRIX.astype(np.float64)).T
        magnitude = np.abs(np.fft.rfft2(decorrelated.transpose(2, 0, 1), axes=(1, 2)))  # (3, S, S // 2 + 1)
        for channel in range(3):
            totals[channel] += np.bincount(which.ravel(), magnitude[channel].ravel(), bins) / np.maximum(
                np.bincount(which.ravel(), minlength=bins), 1
            )
    profiles = totals / max(1, len(photos))
    centres = (edges[:-1] + edges[1:]) / 2
    saved = {
        "made_by": "visconvnets.explain.parameterizations.write_natural_spectrum over the photos below",
        "photos": f"{len(photos)} CC-BY photos of shared/flowers-sample (ATTRIBUTIONS.txt there)",
        "size": size,
        "frequencies": [round(float(value), 6) for value in centres],
        "magnitude": [[round(float(value), 6) for value in profile] for profile in profiles],
    }
    Path(target).write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
    return profiles
