"""Regenerate the README's figures from a finished demo run.

Usage (from the project root):
    python model_training_and_visualization.py --demo --output outputs/demo
    python Images/regenerate.py --run outputs/demo

Copies the demo's pictures (a Grad-CAM panel that the pointing game counts as a hit, a failure-gallery
panel, the deepest filter sheet (patterns beside their test crops), the roses' concepts, the training curves,
the confusion matrix, the deletion/insertion curves, the randomisation check, the first probe's epoch strip
and GIF), draws every map method over the Grad-CAM panel's image (demo_methods.jpg), one layer's filters by
every parameterisation with their percentiles (demo_parameterizations.jpg) and draws what the demo
model's mixed2 layer sees in one real CC-BY photo of ../shared/flowers-sample.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REAL_PHOTO = "sunflower/1297092593_e573c0a3d6.jpg"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("outputs/demo"), help="a finished --demo output folder")
    parser.add_argument(
        "--sample", type=Path, default=ROOT.parent / "shared" / "flowers-sample", help="the CC-BY sample photos"
    )
    parser.add_argument("--photo", default=REAL_PHOTO, help="which sample photo to draw (relative to --sample)")
    parser.add_argument("--images", type=Path, default=ROOT / "Images", help="where the figures go")
    return parser.parse_args(argv)


def split_folder(run) -> Path:
    """The split folder the run's test images are in: its config's ``data``, else the demo's own split."""
    from visconvnets.settings import outputs

    given = json.loads((run / outputs.CONFIG).read_text())["config"]["data"]
    return Path(given) if given else run.root / outputs.DEMO_DATA / "split"


def chosen_source(run, panel: Path) -> Path:
    """The test image behind a Grad-CAM panel (``gradcam/<stem>.jpg``), from the run's predictions."""
    from visconvnets.settings import outputs

    data = split_folder(run)
    for row in outputs.read_predictions_csv(run / outputs.PREDICTIONS):
        if run.cam_panel(row["path"]) == panel:
            return data / row["path"]
    raise FileNotFoundError(f"no test image of {run.root} is drawn in {panel}")


def compare_methods(model, run, image_path: Path, size: int, metrics: dict, target: Path) -> None:
    """Every registered method over one test image (the run's settings, so the demo's pixel options), as
    ``--compare-cams`` draws it."""
    from visconvnets.data.images import load_images
    from visconvnets.run.pictures import write_cam_comparisons
    from visconvnets.settings import outputs
    from visconvnets.settings.config import config_from_mapping

    config = config_from_mapping(json.loads((run / outputs.CONFIG).read_text())["config"])
    layer = metrics["faithfulness"]["layer"]
    layout = outputs.RunLayout(target.parent / "compare_scratch")
    written = write_cam_comparisons(model, load_images([image_path], size), [image_path], layer, layout, config)
    shutil.move(written[0], target)
    shutil.rmtree(layout.root)


def compare_parameterizations(model, run, size: int, target: Path, count: int = 8) -> None:
    """The first ``count`` filters of the deepest filter layer drawn by every parameterisation (the run's steps,
    size and seed), each with its percentile among the run's test images."""
    from visconvnets.data.images import ImageFiles
    from visconvnets.explain.parameterizations import PARAMETERIZATIONS
    from visconvnets.explain.units import describe_units
    from visconvnets.models import build as model_tools
    from visconvnets.render.pictures import save_pattern_rows
    from visconvnets.settings import outputs
    from visconvnets.settings.config import config_from_mapping

    config = config_from_mapping(json.loads((run / outputs.CONFIG).read_text())["config"])
    tests = [split_folder(run) / row["path"] for row in outputs.read_predictions_csv(run / outputs.PREDICTIONS)]
    images = ImageFiles(tests, size)
    layer = model_tools.default_filter_layers(model)[-1]
    rows = []
    for name in PARAMETERIZATIONS:
        settings = dataclasses.replace(config.ascent_settings(), parameterization=name)
        found = describe_units(model, {layer: range(count)}, images, config.filter_size, settings, config.seed, 0)
        units = found[layer]
        label = f"{name}: {100 * (units.percentiles >= 99).mean():.0f}% at the 99th percentile or above"
        rows.append((label, units.patterns, units.filters, units.percentiles))
    title = f"{layer}, filters 0-{count - 1}: percentile among the {len(images)} test images"
    save_pattern_rows(rows, target, title)


def main(argv=None) -> int:
    args = parse_args(argv)
    from visconvnets.data.images import load_images
    from visconvnets.models import build as model_tools
    from visconvnets.models.saved import load_trained_model
    from visconvnets.run.pictures import save_activation_grids
    from visconvnets.settings import outputs

    run = outputs.RunLayout(args.run)
    metrics = json.loads((run / outputs.METRICS).read_text())
    # The README's Grad-CAM example: the first explained test image that is classified right AND
    # whose peak is in the flower's box (a pointing-game hit, listed in metrics.json), so the caption can say so.
    hits = set(metrics["pointing_game"]["trained_hits"])
    predictions = outputs.read_predictions_csv(run / outputs.PREDICTIONS)
    correct = {row["path"] for row in predictions if row["true"] == row["predicted"]}
    chosen = min(run.cam_panel(path) for path in hits & correct if run.cam_panel(path).exists())
    shutil.copyfile(chosen, args.images / "demo_gradcam.jpg")
    failures = sorted((run / outputs.MISCLASSIFIED).glob("*.jpg"))
    if failures:
        shutil.copyfile(failures[0], args.images / "demo_misclassified.jpg")
    model, _ = load_trained_model(run / outputs.MODEL)
    size = int(model.input_shape[1])
    deepest = model_tools.default_filter_layers(model)[-1]
    shutil.copyfile(run.filter_grid(deepest), args.images / "demo_filters.jpg")
    concept_sheets = sorted((run / outputs.CONCEPTS).glob("*.jpg"))  # the README's: the roses', else the first
    if concept_sheets:
        roses = [path for path in concept_sheets if path.stem == "rose"]
        shutil.copyfile((roses or concept_sheets)[0], args.images / "demo_concepts.jpg")
    shutil.copyfile(run / outputs.TRAINING_CURVES, args.images / "demo_training_curves.png")
    shutil.copyfile(run / outputs.CONFUSION_MATRIX, args.images / "demo_confusion_matrix.png")
    shutil.copyfile(run / outputs.FAITHFULNESS_CURVES, args.images / "demo_faithfulness.png")
    shutil.copyfile(run / outputs.SANITY_FIGURE, args.images / "demo_sanity.png")
    strips = sorted((run / outputs.EPOCHS).glob("*_strip.jpg"))  # the probes' maps, epoch by epoch
    if strips:
        shutil.copyfile(strips[0], args.images / "demo_epochs_strip.jpg")
        shutil.copyfile(
            strips[0].with_name(strips[0].name.replace("_strip.jpg", ".gif")), args.images / "demo_epochs.gif"
        )
    compare_methods(model, run, chosen_source(run, chosen), size, metrics, args.images / "demo_methods.jpg")
    compare_parameterizations(model, run, size, args.images / "demo_parameterizations.jpg")
    photo = args.sample / args.photo
    images = load_images([photo], size)
    grids = save_activation_grids(model, images[0], args.images / "real_photo_grids", ["mixed2"])
    shutil.move(grids[0], args.images / "real_photo_mixed2.jpg")
    shutil.rmtree(args.images / "real_photo_grids")
    credit = [
        line
        for line in (args.sample / "ATTRIBUTIONS.txt").read_text(encoding="utf-8").splitlines()
        if line.startswith(args.photo)
    ]
    (args.images / "ATTRIBUTIONS.txt").write_text(
        "Real photo used in real_photo_mixed2.jpg (CC-BY 2.0, https://creativecommons.org/licenses/by/2.0/):\n"
        + "\n".join(credit)
        + "\n",
        encoding="utf-8",
    )
    print(f"figures written to {args.images}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
