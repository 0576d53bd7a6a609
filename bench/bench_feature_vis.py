"""Feature visualisation's parameterisations side by side on a trained model, same steps, same filters.

Usage:
    python bench/bench_feature_vis.py [--run outputs/demo] [--filters 24] [--steps 40] [--size 128]

For each default filter layer of the run's model (``layer_choice``: the blog's fractions of the depth) and each
parameterisation (pixel, fourier, maco): the seconds the batch of ``--filters`` patterns takes (after one
warm-up ascent that pays the trace), and how strongly the patterns drive their filters beside the run's
test images (``filters.pattern_percentiles``: the median percentile and the share of patterns at the 99th
or above). A pattern below the 99th percentile of real photos is not a picture of what its unit wants.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run_split(run: Path) -> Path:
    """The split folder a finished run trained on (its config's ``data``; a demo's own under OUT/data)."""
    from visconvnets.settings import outputs

    data = json.loads((run / outputs.CONFIG).read_text())["config"]["data"]
    return Path(data) if data else run / outputs.DEMO_DATA / "split"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("outputs/demo"), help="a finished run's folder")
    parser.add_argument("--filters", type=int, default=24)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args(argv)
    import numpy as np

    from visconvnets.data.images import load_images
    from visconvnets.explain.dataset_examples import pattern_percentiles
    from visconvnets.explain.filters import ascend
    from visconvnets.explain.parameterizations import PARAMETERIZATIONS
    from visconvnets.models import build
    from visconvnets.models.layers import find_layer
    from visconvnets.models.saved import load_trained_model
    from visconvnets.settings import outputs
    from visconvnets.settings.stages import AscentSettings

    model, _ = load_trained_model(args.run / outputs.MODEL)
    split = run_split(args.run)
    rows = outputs.read_predictions_csv(args.run / outputs.PREDICTIONS)
    images = load_images([split / row["path"] for row in rows], int(model.input_shape[1]))
    results = {"run": str(args.run), "test_images": len(images), "filters": args.filters, "steps": args.steps}
    for layer in build.default_filter_layers(model):
        indices = list(range(min(args.filters, int(find_layer(model, layer).output.shape[-1]))))
        found = {}
        for parameterization in PARAMETERIZATIONS:
            settings = AscentSettings(steps=args.steps, parameterization=parameterization)
            ascend(model, layer, indices[:2], args.size, AscentSettings(steps=2, parameterization=parameterization))
            start = time.perf_counter()
            patterns = ascend(model, layer, indices, args.size, settings, seed=0)
            seconds = time.perf_counter() - start
            percentiles = pattern_percentiles(
                model, layer, indices, patterns, images, settings.border, settings.objective
            )
            found[parameterization] = {
                "seconds": round(seconds, 2),
                "median_percentile": round(float(np.median(percentiles)), 1),
                "share_at_99th": round(float(np.mean(percentiles >= 99.0)), 3),
            }
        results[layer] = found
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
