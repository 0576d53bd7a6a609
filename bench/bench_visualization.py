"""Visualization benchmarks against the blog-style baselines (``../shared/bench/seed_style.py``), one run.

Usage:
    python bench/bench_visualization.py [--size 299] [--seed-filters 4] [--cam-batch 32]

InceptionV3 (random weights, this project's flat model with its [0, 255] input) at 299x299:
1. all 188 Conv2D/Activation grids for one image: seed style (multi-output model, per-channel Python
   loop, one matplotlib figure per layer) vs ours (one forward pass, vectorised grids, Pillow JPEGs on
   two threads);
2. filter patterns at 150 px, 80 steps, the 5th convolution (the seed's conv2d_4): seed style one filter at a time
   (``--seed-filters`` of them, seconds per filter extrapolated to 64) vs ours, 64 filters in one batch;
   the final mean activation of each filter (whole map, the seed's measure) compared on the same filters;
3. Grad-CAM for a batch of ``--cam-batch`` vs one forward plus backward pass of that batch.
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
sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def best_of(function, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=299)
    parser.add_argument("--seed-filters", type=int, default=4)
    parser.add_argument("--cam-batch", type=int, default=32)
    parser.add_argument("--skip", nargs="*", default=[], choices=("grids", "filters", "gradcam"))
    args = parser.parse_args(argv)
    import numpy as np
    import tensorflow as tf
    from seed_style import seed_style_activation_grids, seed_style_filter_pattern

    from visconvnets.explain.cams import gradcam
    from visconvnets.explain.filters import ascend, filter_activations
    from visconvnets.models.build import build_model
    from visconvnets.models.layers import conv_layers_by_position, select_layers
    from visconvnets.run.pictures import save_activation_grids

    model = build_model(5, args.size, None)
    image = np.random.default_rng(0).uniform(0, 255, (1, args.size, args.size, 3)).astype("float32")
    results: dict = {"size": args.size, "cores": os.cpu_count()}
    work = Path(tempfile.mkdtemp(prefix="visconvnets-vis-bench-"))

    if "grids" not in args.skip:
        names = select_layers(model, None)
        save_activation_grids(model, image[0], work / "warm", names[:2])  # trace/warm-up
        seed_seconds = seed_style_activation_grids(model, image, names, str(work / "seed"))
        ours_seconds = best_of(lambda: save_activation_grids(model, image[0], work / "ours", names))
        results["grids"] = {
            "layers": len(names),
            "seed s": round(seed_seconds, 2),
            "ours s": round(ours_seconds, 2),
            "speed-up": round(seed_seconds / ours_seconds, 1),
        }
        print(json.dumps(results["grids"]))

    if "filters" not in args.skip:
        filter_model = build_model(5, 150, None)  # the seed feeds 150-px images to a 150-px model
        layer = conv_layers_by_position(filter_model, (5,))[0]  # the seed's conv2d_4: the 5th convolution
        start = time.perf_counter()
        seed_finals = [
            seed_style_filter_pattern(filter_model, layer, index, size=150, steps=80)[1]
            for index in range(args.seed_filters)
        ]
        seed_per_filter = (time.perf_counter() - start) / args.seed_filters
        start = time.perf_counter()
        patterns = ascend(filter_model, layer, list(range(64)), size=150)
        ours_seconds = time.perf_counter() - start
        ours_finals = filter_activations(filter_model, layer, patterns[: args.seed_filters], range(args.seed_filters))
        results["filters"] = {
            "layer": layer,
            "seed s per filter": round(seed_per_filter, 2),
            "seed s for 64 (extrapolated)": round(64 * seed_per_filter, 1),
            "ours s for 64": round(ours_seconds, 1),
            "speed-up": round(64 * seed_per_filter / ours_seconds, 1),
            "seed mean final activation": round(float(np.mean(seed_finals)), 4),
            "ours mean final activation (same filters)": round(float(np.mean(ours_finals)), 4),
            "ours mean final activation (64 filters)": round(
                float(filter_activations(filter_model, layer, patterns, range(64)).mean()), 4
            ),
        }
        print(json.dumps(results["filters"]))

    if "gradcam" not in args.skip:
        batch = tf.constant(
            np.random.default_rng(1).uniform(0, 255, (args.cam_batch, args.size, args.size, 3)).astype("float32")
        )

        def forward_backward():
            with tf.GradientTape() as tape:
                tape.watch(batch)
                output = model(batch, training=False)
                total = tf.reduce_sum(output)
            return tape.gradient(total, batch)

        forward_backward()
        gradcam(model, batch[:2])
        plain = best_of(forward_backward)
        ours = best_of(lambda: gradcam(model, batch))
        results["gradcam"] = {
            "batch": args.cam_batch,
            "forward+backward s": round(plain, 2),
            "gradcam s": round(ours, 2),
            "ratio": round(ours / plain, 2),
        }
        print(json.dumps(results["gradcam"]))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
