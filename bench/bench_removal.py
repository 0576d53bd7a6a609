"""Which removal lets deletion and insertion decide? Every removal measured on trained models, side by side.

Usage:
    python bench/bench_removal.py [--run outputs/demo] [--photos ../shared/flowers-sample] [--size 128]
        [--epochs 12] [--images 40] [--steps 10] [--out bench/results]

1. Models and their test images: with ``--run``, a finished run's model on its own test split (the demo's: the
   synthetic flowers) and on the test split of ``--photos`` (real photos, CC-BY: ATTRIBUTIONS.txt there); the
   Keras tutorial CNN (``bench_fused_relu.tutorial_cnn``) trained with plain Keras on ``--photos`` for
   ``--epochs``, on that test split.
2. For each model and each removal (``settings.names.REMOVALS``): the removal check (the class probability of
   the test images with every pixel removed, against the images' and chance) and the map method against the
   random baseline on the same images (``--images`` at most, ``--steps`` curve points), image by image: the
   mean difference in deletion and insertion AUC, its paired bootstrap interval and the signed-rank p-value.

Prints one row per model and removal and writes them to ``--out``/removal.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def measure(model, images, layer: str, steps: int, seed: int = 0) -> list[dict]:
    """One row per removal: the removal check, and Grad-CAM against the random map on deletion and insertion."""
    from visconvnets.explain import cams
    from visconvnets.explain.methods import find_method
    from visconvnets.models.geometry import receptive_field
    from visconvnets.scores.comparisons import paired_comparison
    from visconvnets.scores.faithfulness import deletion_insertion, removal_check
    from visconvnets.settings.names import REMOVALS

    one_pass = cams.cam_pass(model, images, None, layer, seed)
    maps = {name: find_method(name).compute(one_pass) for name in ("gradcam", "random")}
    check = removal_check(model, images)
    geometry, rows = receptive_field(model, layer), []
    for removal in REMOVALS:
        started = time.perf_counter()
        curves = deletion_insertion(model, images, maps, one_pass.indices, steps, removal, geometry, seed)
        row = {"removal": removal, "images": len(images), "original": round(check["original"], 3)}
        row["removed"] = round(check["removals"][removal]["removed"], 3)
        row["kept"] = round(check["removals"][removal]["kept"], 3)
        for key, higher in (("deletion_auc", False), ("insertion_auc", True)):
            compared = paired_comparison(curves["gradcam"][key], curves["random"][key], higher, seed=seed)
            row[key] = {
                "gradcam": round(float(curves["gradcam"][key].mean()), 3),
                "random": round(float(curves["random"][key].mean()), 3),
                "difference": round(compared["difference"], 3),
                "ci95": [round(value, 3) for value in compared["ci95"]],
                "p": float(f"{compared['p']:.2g}"),
            }
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a finished run (e.g. outputs/demo): its model and test split")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "flowers-sample")
    parser.add_argument("--size", type=int, default=128, help="the tutorial CNN's input side")
    parser.add_argument("--epochs", type=int, default=12, help="the tutorial CNN's epochs (0: no tutorial CNN)")
    parser.add_argument("--images", type=int, default=40, help="test images per model at most (seeded choice)")
    parser.add_argument("--steps", type=int, default=10, help="deletion/insertion curve points")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    import numpy as np

    from bench.bench_feature_vis import run_split
    from bench.bench_fused_relu import train_tutorial
    from visconvnets.data.images import load_images
    from visconvnets.data.split import split_dataset
    from visconvnets.models.layer_choice import choose_cam_layer
    from visconvnets.models.saved import load_trained_model
    from visconvnets.settings import outputs

    def chosen(paths: list[Path]) -> list[Path]:
        order = np.random.default_rng(0).permutation(len(paths))[: args.images]
        return [paths[index] for index in sorted(order)]

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        split = Path(folder) / "split"
        split_dataset(args.photos, split, workers=1, seed=42)
        photos = chosen(sorted((split / "test").rglob("*.jpg")))
        models = []  # (label, model, input side, test images, CAM layer)
        if args.run:
            run_model, _ = load_trained_model(args.run / outputs.MODEL)
            side = int(run_model.input_shape[1])
            layer = json.loads((args.run / outputs.METRICS).read_text())["visualizations"]["gradcam_layer"]
            run_test = chosen(sorted((run_split(args.run) / "test").rglob("*.*")))
            models.append((f"{args.run.name} model, its test split", run_model, side, run_test, layer))
            models.append((f"{args.run.name} model, real photos", run_model, side, photos, layer))
        if args.epochs:
            tutorial, accuracy = train_tutorial(split, args.size, args.epochs)
            print(f"tutorial CNN: validation accuracy {accuracy:.2f} after {args.epochs} epochs")
            label = f"tutorial CNN (validation accuracy {accuracy:.2f}), real photos"
            models.append((label, tutorial, args.size, photos, choose_cam_layer(tutorial)[0]))
        for label, model, side, paths, layer in models:
            for row in measure(model, load_images(paths, side), layer, args.steps):
                rows.append({"model": label, "layer": layer, **row})
                print(json.dumps(rows[-1]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "removal.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
