"""Faithfulness scores and the randomisation check on models whose answer is known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from visconvnets.scores.comparisons import bootstrap_interval
from visconvnets.scores.faithfulness import deletion_insertion, impute, road_scores
from visconvnets.scores.sanity import randomisation_steps, randomization_sanity
from visconvnets.settings.names import REMOVALS

from .conftest import red_reader

SIDE = 32


@pytest.fixture(scope="module")
def quadrant_model():
    """Looks only at the top-left quadrant: logit 0 = 4 x its mean red (0-1) - 2, logit 1 = 0."""
    return red_reader(SIDE)


def _red_images(count: int, seed: int = 0) -> np.ndarray:
    images = np.random.default_rng(seed).uniform(0, 60, (count, SIDE, SIDE, 3)).astype(np.float32)
    images[..., 0] += 190.0  # red everywhere, so where the model looks decides
    return images


def _quadrant_map(count: int) -> np.ndarray:
    relevant = np.zeros((count, 4, 4), np.float32)
    relevant[:, :2, :2] = 1.0
    return relevant


def test_deleting_the_region_the_model_uses_beats_deleting_the_rest(quadrant_model):
    images, relevant = _red_images(4), _quadrant_map(4)
    for baseline in REMOVALS:
        good = deletion_insertion(quadrant_model, images, relevant, class_index=0, steps=8, removal=baseline)
        bad = deletion_insertion(quadrant_model, images, 1 - relevant, class_index=0, steps=8, removal=baseline)
        assert good["deletion"].shape == (4, 9) and np.allclose(good["fractions"], np.linspace(0, 1, 9))
        np.testing.assert_allclose(good["deletion"][:, 0], good["insertion"][:, -1], rtol=1e-6)  # the image itself
        assert ((good["deletion_auc"] >= 0) & (good["insertion_auc"] <= 1)).all()
        if baseline == "black":  # black takes the red away (a blurred or mean canvas stays red: no signal)
            assert (good["deletion_auc"] < bad["deletion_auc"] - 0.2).all()
            assert (good["insertion_auc"] > bad["insertion_auc"] + 0.2).all()
    with pytest.raises(ValueError, match="removal must be one of blur, mean, black, impute, got 'grey'"):
        deletion_insertion(quadrant_model, images, relevant, removal="grey")


def _stripes(count: int, seed: int = 0) -> np.ndarray:
    """Grey columns alternating +-50 around a random level: all edges, no colour."""
    levels = np.random.default_rng(seed).uniform(80, 170, count)[:, None, None, None]
    columns = np.where(np.arange(SIDE) % 2 == 0, 50.0, -50.0)[None, None, :, None]
    return np.broadcast_to(levels + columns, (count, SIDE, SIDE, 3)).astype(np.float32)


def _edge_model():
    """Class 0's logit is 8 x the mean absolute Laplacian of the grey image (0-1) - 3: shape, not colour."""
    import keras

    inputs = keras.Input((SIDE, SIDE, 3))
    scaled = keras.layers.Rescaling(1 / 255.0)(inputs)
    edges = keras.layers.Conv2D(2, 3, activation="relu", use_bias=False, name="edges")(scaled)  # +lap, -lap
    pooled = keras.layers.GlobalAveragePooling2D()(edges)
    scores = keras.layers.Dense(2, activation="softmax", name="scores")(pooled)
    model = keras.Model(inputs, scores)
    laplacian = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], np.float32)[:, :, None] / 3.0
    kernel = np.stack([np.repeat(laplacian, 3, axis=2), -np.repeat(laplacian, 3, axis=2)], axis=-1)
    model.get_layer("edges").set_weights([kernel])
    model.get_layer("scores").set_weights([np.array([[8.0, 0.0], [8.0, 0.0]], np.float32), np.array([-3.0, 0.0])])
    return model


def test_the_removal_check_flags_a_blur_that_a_colour_model_survives():
    """A blur keeps a colour model's class (flagged) and takes an edge model's away (not flagged); black takes
    the red away; each removal's numbers are the class probabilities of the images with every pixel removed."""
    from visconvnets.scores.faithfulness import KEEPS_THE_CLASS, removal_check

    colour = removal_check(red_reader(SIDE, quadrant=False), _red_images(6), class_index=0)
    assert colour["chance"] == 0.5 and colour["original"] > 0.75
    assert colour["removals"]["blur"]["flagged"] and colour["removals"]["blur"]["kept"] > 0.95
    assert not colour["removals"]["black"]["flagged"] and colour["removals"]["black"]["removed"] < 0.15
    edges = removal_check(_edge_model(), _stripes(6), class_index=0)
    assert edges["original"] > 0.9 and list(edges["removals"]) == list(REMOVALS)
    assert not edges["removals"]["blur"]["flagged"] and edges["removals"]["blur"]["kept"] < KEEPS_THE_CLASS
    assert not any(found["flagged"] for found in edges["removals"].values())  # every removal takes the stripes
    kept = edges["removals"]["mean"]
    assert kept["kept"] == pytest.approx((kept["removed"] - 0.5) / (edges["original"] - 0.5))


def test_several_map_sets_score_in_one_stream_as_they_do_alone(quadrant_model):
    from visconvnets.models import forward

    images, relevant = _red_images(5, seed=4), _quadrant_map(5)
    sets = {"good": relevant, "bad": 1 - relevant, "noise": np.random.default_rng(5).random((5, 4, 4))}
    together = deletion_insertion(quadrant_model, images, sets, class_index=0, steps=6, removal="black")
    for name, maps in sets.items():  # the curves' two ends run once per image, shared by every map set
        alone = deletion_insertion(quadrant_model, images, maps, class_index=0, steps=6, removal="black")
        for key in ("deletion", "insertion", "deletion_auc", "insertion_auc"):
            np.testing.assert_allclose(together[name][key], alone[key], atol=1e-6)
    single = deletion_insertion(quadrant_model, images, sets, class_index=0, steps=1, removal="black")
    assert single["good"]["deletion"].shape == (5, 2)  # the two ends only
    np.testing.assert_allclose(single["good"]["deletion"], single["bad"]["deletion"])
    road = road_scores(quadrant_model, images, sets, class_index=0, percentiles=(10, 50))
    assert set(road) == set(sets) and road["good"]["morf"].shape == (5, 2)
    # every batch size (5, 10, the perturbed streams' last partial batches) ran one traced inference call
    assert forward._predictor(quadrant_model).experimental_get_tracing_count() == 1
    assert forward.perturbed_batch_size(quadrant_model) == 128  # 2.1 M pixels of 32x32 images, at most 128


def test_a_random_map_deletes_and_inserts_alike(quadrant_model):
    """In random pixel order the quadrant empties as fast as it fills: the two areas nearly agree."""
    images = _red_images(6, seed=1)
    maps = np.random.default_rng(2).random((6, SIDE, SIDE))
    scores = deletion_insertion(quadrant_model, images, maps, class_index=0, steps=16, removal="black")
    assert np.abs(scores["deletion_auc"] - scores["insertion_auc"]).max() < 0.05


def test_road_ranks_the_used_region_first(quadrant_model):
    """Red only in the quadrant: the imputation fills a removed quadrant from its grey surroundings."""
    images, relevant = (
        np.random.default_rng(3).uniform(60, 120, (3, SIDE, SIDE, 3)).astype(np.float32),
        _quadrant_map(3),
    )
    images[:, : SIDE // 2, : SIDE // 2, 0] = 250.0
    good = road_scores(quadrant_model, images, relevant, class_index=0, percentiles=(10, 25, 50))
    bad = road_scores(quadrant_model, images, 1 - relevant, class_index=0, percentiles=(10, 25, 50))
    assert good["morf"].shape == (3, 3)
    assert (good["road_combined"] > 0.05).all() and (bad["road_combined"] < -0.05).all()
    assert (good["morf"][:, -1] < good["lerf"][:, -1]).all()


def test_imputation_fills_from_the_pixels_kept():
    images = np.full((1, 24, 24, 3), 100.0, np.float32)
    images[:, :, 12:] = 200.0
    keep = np.ones((1, 24, 24), bool)
    keep[:, 8:16, 8:16] = False  # a hole over the edge
    filled = impute(images, keep, noise=0.0)
    np.testing.assert_array_equal(filled[keep], images[keep])
    assert np.abs(filled[0, 8:16, 8:10] - 100).max() < 25 and np.abs(filled[0, 8:16, 14:16] - 200).max() < 25
    noisy = impute(images, keep, seed=1)
    assert np.abs(noisy - filled).max() > 0 and np.array_equal(noisy, impute(images, keep, seed=1))


def test_bootstrap_interval():
    values = np.random.default_rng(0).normal(0.4, 0.1, 200)
    found = bootstrap_interval(values, seed=1)
    low, high = found["ci95"]
    assert low < found["mean"] < high and 0.01 < high - low < 0.05
    assert found == bootstrap_interval(values, seed=1)
    assert bootstrap_interval([0.3] * 5)["ci95"] == [pytest.approx(0.3), pytest.approx(0.3)]
    with pytest.raises(ValueError, match="at least one value"):
        bootstrap_interval([])


@pytest.fixture(scope="module")
def blob_model_and_images():
    """Three ReLU convolutions (48 px -> 24x24 maps) over images with one red disc each."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((48, 48, 3))
    hidden = keras.layers.Rescaling(1 / 255.0)(inputs)
    hidden = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(hidden)
    hidden = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c2")(hidden)
    hidden = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="c3")(hidden)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="scores")(pooled))
    rows, columns = np.mgrid[0:48, 0:48]
    images = np.random.default_rng(0).uniform(0, 50, (8, 48, 48, 3)).astype(np.float32)
    for index, (row, column) in enumerate(np.random.default_rng(1).uniform(10, 38, (8, 2))):
        images[index][(rows - row) ** 2 + (columns - column) ** 2 < 80] = (250, 40, 40)
    return model, images


def test_randomisation_drives_gradcam_down_and_leaves_sobel_alone(blob_model_and_images):
    model, images = blob_model_and_images
    before = [weights.copy() for weights in model.get_weights()]
    assert [name for name, _ in randomisation_steps(model)] == ["head", "c3", "c2", "c1"]
    grad = randomization_sanity(model, images, "gradcam", "c3")
    assert grad["steps"] == ["head", "c3", "c2", "c1"] and grad["maps"].shape == (5, 8, 24, 24)
    assert max(grad["spearman"]) < 0.6 and grad["spearman"][-1] < 0.5
    sobel = randomization_sanity(model, images, "sobel", "c3")
    assert sobel["spearman"] == [1.0] * 4 and sobel["ssim"] == [pytest.approx(1.0)] * 4
    eigen = randomization_sanity(model, images, "eigencam", "c3")
    assert eigen["spearman"][0] == 1.0  # no class, no head: re-initialising the head cannot move it
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)  # the trained weights are back


def test_the_randomisation_check_tells_guided_backprop_from_gradcam(blob_model_and_images):
    """Adebayo et al. (2018): guided backpropagation changes far less than the plain gradient (saliency) or
    Grad-CAM when the weights are re-initialised: its ReLU rule keeps the image's own edges. Every method from
    one pass per step; the pixel maps at the input's 48 px."""
    from visconvnets.scores.sanity import randomization_sanities

    model, images = blob_model_and_images
    names = ["gradcam", "guided_backprop", "integrated_gradients", "saliency"]
    found = randomization_sanities(model, images, names, "c3", options={"integrated_gradients": {"steps": 8}})
    methods = found["methods"]
    assert found["steps"] == ["head", "c3", "c2", "c1"] and list(methods) == names
    assert methods["guided_backprop"]["maps"].shape == (5, 8, 48, 48)
    assert methods["gradcam"]["maps"].shape == (5, 8, 24, 24)
    guided, plain = np.asarray(methods["guided_backprop"]["spearman"]), np.asarray(methods["saliency"]["spearman"])
    assert (guided > plain + 0.2).all()  # at every step, the same gradient without the guided rule moves more
    assert guided[-1] > methods["gradcam"]["spearman"][-1] + 0.25 and methods["gradcam"]["spearman"][-1] < 0.2


def test_randomisation_reuses_a_traced_pass_and_restores_the_weights_on_error(blob_model_and_images, monkeypatch):
    from visconvnets.explain import cams
    from visconvnets.scores import sanity

    model, images = blob_model_and_images
    before = [weights.copy() for weights in model.get_weights()]
    eager = randomization_sanity(model, images, "gradcam", "c3")
    traced = cams.trace_passes(model, "c3")
    try:
        found = randomization_sanity(model, images, "gradcam", "c3")
        assert traced._both_passes.experimental_get_tracing_count() == 1  # every step ran the one graph
        np.testing.assert_allclose(found["maps"], eager["maps"], atol=1e-4)
        calls = []

        def failing_cam(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:  # the original maps, one step, then a failure in the second step
                raise RuntimeError("out of memory")
            return cams.cam_pass(*args, **kwargs)

        monkeypatch.setattr(sanity, "cam_pass", failing_cam)
        with pytest.raises(RuntimeError, match="out of memory"):
            randomization_sanity(model, images, "gradcam", "c3")
    finally:
        cams.drop_traced_passes(model)
    for got, want in zip(model.get_weights(), before):
        np.testing.assert_array_equal(got, want)


def test_randomisation_takes_the_trained_maps_it_is_given_instead_of_making_them(blob_model_and_images, monkeypatch):
    """The run's map scores have made the trained model's maps already: the check uses them (one pass fewer)
    and finds what it finds when it makes them itself; maps for another number of images are not taken."""
    from visconvnets.explain import cams
    from visconvnets.scores import sanity

    model, images = blob_model_and_images
    made = sanity.randomization_sanities(model, images, ["gradcam", "saliency"], "c3", max_steps=2)
    trained = {name: result["maps"][0] for name, result in made["methods"].items()}
    passes = []
    monkeypatch.setattr(sanity, "cam_pass", lambda *args, **kwargs: passes.append(1) or cams.cam_pass(*args, **kwargs))
    given = sanity.randomization_sanities(
        model, images, ["gradcam", "saliency"], "c3", max_steps=2, trained_maps=trained
    )
    assert len(passes) == 2  # the two steps only
    for name in trained:
        np.testing.assert_allclose(given["methods"][name]["spearman"], made["methods"][name]["spearman"], atol=1e-5)
        np.testing.assert_array_equal(given["methods"][name]["maps"][0], trained[name])
    fewer = {name: maps[:3] for name, maps in trained.items()}
    sanity.randomization_sanities(model, images, ["gradcam", "saliency"], "c3", max_steps=2, trained_maps=fewer)
    assert len(passes) == 5  # the trained maps made again, then the two steps


def test_rank_correlation_equals_scipy_image_by_image_and_a_flat_map_ranks_nothing():
    from scipy import stats

    from visconvnets.scores.sanity import spearman

    rng = np.random.default_rng(3)
    first = rng.integers(0, 4, (6, 5, 5)).astype(np.float64)  # few values: many ties
    second = first + rng.normal(0, 1.5, first.shape)
    found = spearman(first, second)
    expected = [stats.spearmanr(a.ravel(), b.ravel()).statistic for a, b in zip(first, second)]
    np.testing.assert_allclose(found, expected, rtol=1e-12)
    assert found.min() > -1 and found.max() < 1 and np.ptp(found) > 0  # six different values, not a constant
    flat = np.zeros((1, 2, 2))
    assert spearman(flat, flat)[0] == 0.0  # scipy: NaN; a flat map ranks nothing
    assert spearman(second[:1], second[:1])[0] == pytest.approx(1.0)


def test_pixels_of_equal_relevance_go_in_a_seeded_random_order():
    from visconvnets.scores.faithfulness import _pixel_ranks

    flat = np.zeros((1, 4, 4))
    ranks = _pixel_ranks(flat, 8, seed=1)
    assert sorted(ranks[0]) == list(range(64)) and not np.array_equal(ranks[0], np.arange(64))  # not raster order
    np.testing.assert_array_equal(ranks, _pixel_ranks(flat, 8, seed=1))
    peaked = flat.copy()
    peaked[0, 0, 0] = 1.0
    assert _pixel_ranks(peaked, 8, seed=1)[0, 0] == 0  # the top-left pixel sits on the hottest cell


def test_class_sensitivity(blob_model_and_images):
    from visconvnets.scores.sanity import class_sensitivity

    model, images = blob_model_and_images
    eigen = class_sensitivity(model, images, "eigencam", "c3")
    np.testing.assert_allclose(eigen, 1.0)  # no class in it: the runner-up gets the same map
    grad = class_sensitivity(model, images, "gradcam", "c3")
    assert grad.shape == (8,) and (np.abs(grad) <= 1).all() and grad.mean() < 0.9
