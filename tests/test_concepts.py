"""Concepts (CRAFT-style): the factorisation recovers planted non-negative factors, and the importances rank
first the concept a hand-set model decides by."""

from __future__ import annotations

import numpy as np
import pytest


def _cosines(found: np.ndarray, planted: np.ndarray) -> np.ndarray:
    """(planted, found) cosine similarity of every pair of rows."""
    found = found / np.linalg.norm(found, axis=1, keepdims=True)
    planted = planted / np.linalg.norm(planted, axis=1, keepdims=True)
    return planted @ found.T


def test_nmf_recovers_planted_non_negative_factors():
    from visconvnets.explain.concepts import factorise

    rng = np.random.default_rng(0)
    bank = np.zeros((3, 16))  # three directions over 16 channels, overlapping in two channels
    bank[0, 0:6], bank[1, 5:11], bank[2, 10:16] = rng.uniform(0.5, 1.5, (3, 6))
    coefficients = rng.exponential(1.0, (300, 3)) * (rng.uniform(size=(300, 3)) < 0.6)  # sparse, non-negative
    coefficients[:3] = np.eye(3)  # every concept seen alone at least once
    activations = coefficients @ bank
    found_coefficients, found_bank, _ = factorise(activations, 3, seed=0)
    assert found_coefficients.shape == (300, 3) and found_bank.shape == (3, 16)
    assert (found_coefficients >= 0).all() and (found_bank >= 0).all()
    similarity = _cosines(found_bank, bank)  # each planted direction found once, nearly exactly
    assert (similarity.max(axis=1) > 0.99).all(), similarity
    assert sorted(similarity.argmax(axis=1)) == [0, 1, 2]
    reconstruction = np.linalg.norm(activations - found_coefficients @ found_bank) / np.linalg.norm(activations)
    assert reconstruction < 0.01
    with pytest.raises(ValueError, match="concept count must be between 1 and min"):
        factorise(activations, 17)


def _colour_classifier():
    """Six feature channels, two per colour (red -> 0, 1; green -> 2, 3; blue -> 4, 5), then a global mean and
    a linear head: class 0's score is the blue channels only, class 1's the red ones."""
    import keras

    inputs = keras.Input((32, 32, 3))
    scaled = keras.layers.Rescaling(1 / 255.0)(inputs)
    features = keras.layers.Conv2D(6, 1, activation="relu", use_bias=False, name="features")
    pooled = keras.layers.GlobalAveragePooling2D()(features(scaled))
    head = keras.layers.Dense(2, name="scores")
    model = keras.Model(inputs, head(pooled))
    kernel = np.zeros((1, 1, 3, 6), np.float32)
    for colour in range(3):
        kernel[0, 0, colour, 2 * colour : 2 * colour + 2] = (1.0, 0.5)
    features.set_weights([kernel])
    weights = np.zeros((6, 2), np.float32)
    weights[4:6, 0] = 1.0  # class 0: blue
    weights[0:2, 1] = 1.0  # class 1: red
    head.set_weights([weights, np.zeros(2, np.float32)])
    return model


def _quadrant_images(count: int, seed: int = 0) -> np.ndarray:
    """Images of four quadrants, each quadrant pure red, green or blue at random."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 32, 32, 3), np.float32)
    colours = rng.integers(0, 3, (count, 2, 2))
    for row in range(2):
        for column in range(2):
            block = np.eye(3, dtype=np.float32)[colours[:, row, column]] * 255.0  # (count, 3)
            images[:, 16 * row : 16 * row + 16, 16 * column : 16 * column + 16] = block[:, None, None]
    return images


def test_the_decisive_concept_ranks_first_and_its_crops_and_maps_hold_it():
    from visconvnets.explain.concepts import concepts

    model, images = _colour_classifier(), _quadrant_images(12)
    found = concepts(model, images, "features", class_index=0, count=3, crops_per_image=6, seed=0)
    colours = np.zeros((3, 6))
    for colour in range(3):
        colours[colour, 2 * colour : 2 * colour + 2] = (1.0, 0.5)
    similarity = _cosines(found.bank, colours)  # (colours, concepts)
    assert (similarity.max(axis=1) > 0.95).all(), similarity  # red, green and blue each found
    assert similarity[2].argmax() == 0  # blue, the one class 0 is scored by, ranks first
    assert found.importances[0] > 0 and np.all(found.importances[1:] < 0.05 * found.importances[0])
    assert (np.diff(found.importances) <= 0).all()
    assert found.maps.shape == (12, 32, 32, 3) and found.crops.shape == (72, 32, 32, 3)
    blue = images[..., 2] > 0  # (12, 32, 32): where the blue concept's map must be, and only there
    assert found.maps[..., 0][blue].min() > 0.5 * found.maps[..., 0].max() and found.maps[..., 0][~blue].max() < 1e-3
    best = found.crops[found.top_crops(3)[0]]  # the three crops holding most blue: mostly blue
    assert (best[..., 2] > 128).mean() > 0.5
    for_red = concepts(model, images, "features", class_index=1, count=3, crops_per_image=6, seed=0)
    assert _cosines(for_red.bank, colours)[0].argmax() == 0  # class 1 is scored by red: red first
    with pytest.raises(ValueError, match="no \\(batch, h, w, channels\\) output"):
        concepts(model, images, "scores", class_index=0)
