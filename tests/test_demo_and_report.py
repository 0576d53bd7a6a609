"""The built-in synthetic flowers, the pointing game, the --demo path and the report in a real browser."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from visconvnets.data import synthetic
from visconvnets.scores.pointing import pointing_game

from .conftest import DEMO_OVERRIDES, report_links, report_pictures


def test_synthetic_flowers_are_seeded_and_boxed(tmp_path):
    first = synthetic.generate_flowers(tmp_path / "a", images_per_class=4, size=96, seed=3, workers=2)
    second = synthetic.generate_flowers(tmp_path / "b", images_per_class=4, size=96, seed=3, workers=1)
    other = synthetic.generate_flowers(tmp_path / "c", images_per_class=4, size=96, seed=4, workers=1)
    files = sorted(path.relative_to(first).as_posix() for path in first.rglob("*.jpg"))
    assert len(files) == 20 and {name.split("/")[0] for name in files} == set(synthetic.CLASSES)
    assert all((first / name).read_bytes() == (second / name).read_bytes() for name in files)
    assert any((first / name).read_bytes() != (other / name).read_bytes() for name in files)
    boxes = synthetic.read_boxes(first / "boxes.csv")
    assert sorted(boxes) == files
    for name, (x0, y0, x1, y1) in boxes.items():
        assert 0 <= x0 < x1 <= 95 and 0 <= y0 < y1 <= 95, name
    with pytest.raises(ValueError, match="not empty"):
        synthetic.generate_flowers(first, images_per_class=1)


def test_synthetic_colour_carries_the_class():
    """Mean colour inside the box: roses red, dandelions and sunflowers yellow, daisies bright."""
    means = {}
    for class_name in synthetic.CLASSES:
        colours = []
        for seed in range(6):
            picture, (x0, y0, x1, y1) = synthetic.draw_flower_photo(class_name, 128, seed)
            colours.append(picture[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0))
        means[class_name] = np.mean(colours, axis=0)
    red, green, blue = means["rose"]
    assert red > green + 40 and red > blue + 40
    for yellow in ("dandelion", "sunflower"):
        assert means[yellow][0] > means[yellow][2] + 40 and means[yellow][1] > means[yellow][2] + 30
    assert means["daisy"].mean() > means["sunflower"].mean()  # white petals vs dark centre


def test_pointing_game_places_peaks_at_receptive_field_centres(small_model, monkeypatch):
    import visconvnets.explain.cams as cams

    maps = np.zeros((2, 3, 3), np.float32)
    maps[0, 2, 1] = 1.0  # centre (row 4*2+6, column 4*1+6) = (14, 10)
    maps[1, 0, 0] = 1.0  # centre (6, 6)
    monkeypatch.setattr(cams, "gradcam", lambda model, images, class_index, layer_name: maps[: len(images)])
    images = np.zeros((2, 24, 24, 3), np.float32)
    boxes = [(8, 12, 12, 16), (8, 8, 20, 20)]  # x0, y0, x1, y1: the first holds (x 10, y 14), the second misses (6, 6)
    result = pointing_game(small_model, images, [0, 1], boxes, "conv_c")
    assert result["hits"] == [True, False] and result["score"] == 0.5
    assert result["centre"] == 0.5  # (11.5, 11.5) is inside the second box only
    doubled = pointing_game(
        small_model, images, [0, 1], [(16, 24, 24, 32), (0, 0, 4, 4)], "conv_c", original_sizes=[(48, 48)] * 2
    )
    assert doubled["hits"] == [True, False]  # (10, 14) in model pixels -> (20.5, 28.5) in the 48-px original


@pytest.mark.xdist_group("demo_run")  # one worker builds the shared run
def test_demo_run_writes_data_metrics_and_report(demo_run):
    output, metrics = demo_run
    assert sorted(path.name for path in (output / "data" / "flowers").iterdir()) == [
        "README.txt",
        "boxes.csv",
        *synthetic.CLASSES,
    ]
    counts = metrics["data"]["counts"]
    assert {split: sum(per_class.values()) for split, per_class in counts.items()} == {
        "train": 25,
        "validation": 5,
        "test": 10,
    }
    pointing = metrics["pointing_game"]
    # InceptionV3's demo layer (backbones.py), 13x13 at the demo's 128 px, 7x7 at this test's 75 px
    assert pointing["layer"] == metrics["visualizations"]["gradcam_layer"] == "mixed2" and pointing["count"] == 10
    assert "--demo sets it" in metrics["visualizations"]["gradcam_layer_reason"]
    for key in ("trained", "untrained", "centre"):
        assert 0.0 <= pointing[key] <= 1.0
    assert len(pointing["trained_hits"]) == round(pointing["trained"] * pointing["count"])
    assert all(
        path.startswith("test/") and (output / "data" / "split" / path).is_file() for path in pointing["trained_hits"]
    )
    assert metrics["trained_from_scratch"] is True
    pointing_per_method = {
        name: row["pointing_game"]["mean"] for name, row in metrics["faithfulness"]["methods"].items()
    }
    assert len(pointing_per_method) == 15 and all(0 <= value <= 1 for value in pointing_per_method.values())
    assert list(metrics["sanity"]["methods"]) == ["gradcam", "integrated_gradients", "guided_backprop"]
    assert any("pointing game" in sentence for sentence in metrics["faithfulness"]["findings"])
    config = json.loads((output / "config.json").read_text())["config"]
    assert config["image_size"] == 75 and config["lr_schedule"] == "cosine" and config["validation"] is False
    page = (output / "index.html").read_text(encoding="utf-8")
    assert "Trained from scratch" in page and "pointing game" in page
    assert page.count("<small>(pixels)</small>") == 6  # the pixel methods' rows in the scores table
    assert "Randomisation check of gradcam, integrated_gradients, guided_backprop" in page
    assert "Loss and accuracy per epoch, training only." in page  # the demo has no validation pass


@pytest.mark.xdist_group("demo_run")  # one worker builds the shared run
def test_the_demo_scores_its_patterns_shows_their_examples_and_finds_concepts(demo_run):
    """filters/index.json: every pattern's percentile among the 10 test images, its 9 examples (boxes inside the
    75-px input, at most one per image, strongest first); concepts/index.json: every class, importances
    ranked; the report shows both, and the stages are timed."""
    output, metrics = demo_run
    index = json.loads((output / "filters" / "index.json").read_text())
    assert index["parameterization"] == "fourier" and index["images_scanned"] == 10
    assert [entry["layer"] for entry in index["layers"]] == metrics["visualizations"]["filters"]
    test_images = {path.as_posix() for path in (output / "data" / "split" / "test").rglob("*.jpg")}
    for entry in index["layers"]:
        assert entry["filters"] == [0, 1, 2, 3] and len(entry["percentiles"]) == 4
        assert all(value in {10.0 * k for k in range(11)} for value in entry["percentiles"])  # a share of 10 images
        assert entry["at_99th"] == np.mean(np.array(entry["percentiles"]) >= 99)
        for examples in entry["examples"]:
            assert len(examples) == 9 and len({example["image"] for example in examples}) == 9
            assert {example["image"] for example in examples} <= test_images
            values = [example["value"] for example in examples]
            assert values == sorted(values, reverse=True)
            for top, left, bottom, right in (example["box"] for example in examples):
                assert 0 <= top < bottom <= 75 and 0 <= left < right <= 75 and bottom - top == right - left
        with Image.open(output / "filters" / entry["file"]) as sheet:
            assert sheet.width > 4 * 75 * 2  # four blocks of a pattern and its crops side by side
    concepts = json.loads((output / "concepts" / "index.json").read_text())
    assert concepts["layer"] == "mixed2" == metrics["visualizations"]["concept_layer"]
    assert [entry["class"] for entry in concepts["classes"]] == list(synthetic.CLASSES)
    for entry in concepts["classes"]:
        assert entry["images"] == 2 and len(entry["importances"]) == 6 and len(entry["map_images"]) == 6
        assert entry["importances"] == sorted(entry["importances"], reverse=True)
        assert 0 <= entry["reconstruction_error"] < 1
        with Image.open(output / "concepts" / entry["file"]) as sheet:
            assert sheet.height > 6 * 100  # six rows of crops and a map
    assert {"filter patterns", "dataset examples", "concepts"} <= set(metrics["timings"])
    page = (output / "index.html").read_text(encoding="utf-8")
    assert "Concepts per class" in page and page.count("<h3>") >= len(synthetic.CLASSES)
    assert "drive their unit past the 99th percentile of the test images" in page
    assert all(f'src="concepts/{name}.jpg"' in page for name in synthetic.CLASSES)


@pytest.mark.xdist_group("demo_run")  # one worker builds the shared run
def test_the_demo_run_again_replaces_its_own_run(demo_run, tmp_path, capsys):
    """The README's first command a second time, on its finished output: the demo says it replaces its
    own run, reuses the generated data untouched, and finishes again with a report whose links resolve."""
    from visconvnets.run import workflow
    from visconvnets.settings.config import demo_preset

    again = tmp_path / "demo"
    shutil.copytree(demo_run[0], again)
    data_files = {path: path.stat().st_mtime_ns for path in (again / "data").rglob("*") if path.is_file()}
    first_report = (again / "index.html").stat().st_mtime_ns
    metrics = workflow.run(demo_preset(**DEMO_OVERRIDES, output=again))
    assert f"replacing the previous run in {again}" in capsys.readouterr().out
    assert data_files and {path: path.stat().st_mtime_ns for path in data_files} == data_files
    assert (again / "index.html").stat().st_mtime_ns > first_report and metrics["test"]["count"] > 0
    links = report_links(again / "index.html")
    assert links and all((again / link).exists() for link in links if "://" not in link)


@pytest.mark.xdist_group("demo_run")  # one worker builds the shared run
def test_report_links_resolve_to_files(demo_run):
    output, _ = demo_run
    targets = report_links(output / "index.html")
    written = [
        *output.glob("*.png"),
        *(output / "epochs").glob("*_strip.jpg"),
        *(output / "epochs").glob("*.gif"),
        *(output / "activations").glob("*/*.jpg"),
        *[
            path
            for folder in ("gradcam", "misclassified", "filters", "concepts")
            for path in (output / folder).glob("*.jpg")
        ],
    ]
    missing = {path.relative_to(output).as_posix() for path in written} - set(targets)
    assert len(written) > 50 and missing == set()  # every picture the run wrote is linked
    for target in targets:
        assert "://" not in target and not target.startswith("/"), target  # relative only, no network
        assert (output / target).is_file(), target


def _chromium() -> str | None:
    for candidate in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


@contextlib.contextmanager
def _report_page(output):
    """A headless Chromium page on ``output/index.html`` and the console errors it logs (skips, or fails on CI,
    without Chromium or Playwright)."""
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if executable is None or sync_playwright is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "CI must run the browser test: .ci/setup-browser installs chromium, requirements-dev.txt playwright"
            )
        pytest.skip(
            "chromium or playwright not installed (bash .ci/setup-browser; pip install -r requirements-dev.txt)"
        )
    errors: list[str] = []
    arguments = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=[*arguments, "--disable-sync", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto((output / "index.html").resolve().as_uri())
        try:
            yield page, errors
        finally:
            browser.close()


@pytest.mark.xdist_group("demo_run")  # one worker builds the shared run
def test_report_renders_in_headless_chromium(demo_run):
    output, _ = demo_run
    with _report_page(output) as (page, errors):
        # open every collapsed section and load lazy images, then wait for all of them
        page.evaluate("""async () => {
            document.querySelectorAll('details').forEach(d => d.open = true);
            const images = [...document.images];
            images.forEach(i => i.loading = 'eager');
            await Promise.all(images.map(i => i.complete && i.naturalWidth ? null : i.decode().catch(() => null)));
        }""")
        sizes = page.evaluate("[...document.images].map(i => [i.getAttribute('src'), i.naturalWidth])")
        page.screenshot(path=str(output / "report_screenshot.png"), full_page=False)
    markup = Counter(report_pictures(output / "index.html"))
    shown = Counter(source for source, _ in sizes)
    assert markup and markup <= shown  # every picture of the markup is on the page
    extra = list((shown - markup).elements())  # what the page's script added: the layer browser's first grid
    assert len(extra) == 1 and extra[0].startswith("activations/"), extra
    for source, width in sizes:  # each decoded, at the width of its file
        with Image.open(output / source) as picture:
            assert width == picture.width, source
    assert errors == []
    with Image.open(output / "report_screenshot.png") as shot:
        assert shot.size == (1280, 900)  # the viewport, drawn


BROWSER_STATE = """async () => {
    const pictures = [...document.querySelectorAll('#browser-pictures img')];
    await Promise.all(pictures.map(p => p.complete && p.naturalWidth ? null : p.decode().catch(() => null)));
    return {
        layer: document.getElementById('browser-layer').textContent,
        position: document.getElementById('browser-position').textContent,
        pictures: pictures.map(p => ({src: p.getAttribute('src'), natural: p.naturalWidth,
                                      shown: p.getBoundingClientRect().width})),
    };
}"""


@pytest.mark.xdist_group("demo_run")  # one worker builds the shared run
def test_layer_browser_keys_slider_and_every_image(demo_run):
    output, _ = demo_run
    folders = sorted(path for path in (output / "activations").iterdir() if path.is_dir())
    assert len(folders) == 2  # the fixture's two activation images
    index = json.loads((folders[0] / "index.json").read_text())
    assert len(index) > 100 and [entry["file"] for entry in index] == sorted(entry["file"] for entry in index)
    with _report_page(output) as (page, errors):
        page.locator("#layer-browser").scroll_into_view_if_needed()
        first = page.evaluate(BROWSER_STATE)
        assert first["layer"].startswith(index[0]["layer"] + ":") and first["position"] == f"layer 1 of {len(index)}"
        assert first["pictures"][0]["src"] == f"activations/{folders[0].name}/{index[0]['file']}"
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        moved = page.evaluate(BROWSER_STATE)
        assert moved["layer"].startswith(index[2]["layer"] + ":") and moved["pictures"][0]["src"].endswith(
            index[2]["file"]
        )
        page.keyboard.press("ArrowLeft")
        assert page.evaluate(BROWSER_STATE)["pictures"][0]["src"].endswith(index[1]["file"])
        page.select_option("#browser-image", "all")  # every image at the same layer
        seen = []
        for position in range(len(index)):  # the slider reaches every layer; every picture loads there
            page.evaluate(
                "value => { const s = document.getElementById('browser-slider'); s.value = value;"
                " s.dispatchEvent(new Event('input')); }",
                position,
            )
            state = page.evaluate(BROWSER_STATE)
            assert [picture["src"] for picture in state["pictures"]] == [
                f"activations/{folder.name}/{index[position]['file']}" for folder in folders
            ]
            seen += state["pictures"]
            tile_width = index[position]["tile"][1]
            for picture in state["pictures"]:  # loaded, and every channel at least 48 px on screen
                assert picture["natural"] == index[position]["picture"][1]
                assert picture["shown"] / picture["natural"] * tile_width >= 47.9, (position, picture)
        page.keyboard.press("ArrowRight")  # at the last layer already: stays there
        assert page.evaluate(BROWSER_STATE)["position"] == f"layer {len(index)} of {len(index)}"
    assert len(seen) == 2 * len(index)
    assert errors == []
