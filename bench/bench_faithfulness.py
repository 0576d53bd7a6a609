"""Costs of the map scores and the CAM methods, each against its baseline in the same run.

Usage:
    python bench/bench_faithfulness.py [--size 150] [--images 32] [--steps 20] [--layer mixed7]

InceptionV3 (this project's flat model, random weights) at ``--size``:
1. deletion + insertion of ``--images`` images x ``--steps`` steps vs the forward passes they need
   (the same number of images through ``predict_on_batch`` in batches of 32): the overhead of building
   the perturbed images and of the bookkeeping (target: at most about 1.2x);
2. Score-CAM at ``--layer``: ours (the 32 most active channels, masked images batched) vs a naive loop
   over the same channels, one masked image per forward call, on ``--naive-images`` images;
3. every CAM method's time for ``--images`` images beside Grad-CAM's (one forward/backward pass each,
   Score-CAM's masked forwards on top); the pixel methods: ``bench_pixels.py``.
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


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def naive_scorecam(model, images, layer: str, top_channels: int):
    """Score-CAM as the paper's loop: one masked image per forward call, channel after channel."""
    import keras
    import numpy as np
    import tensorflow as tf

    features = np.asarray(keras.Model(model.inputs, model.get_layer(layer).output)(images))  # (n, h, w, c)
    classes = np.asarray(model(images)).argmax(axis=1)
    maps = []
    for index in range(len(images)):
        channels = np.argsort(-features[index].mean(axis=(0, 1)), kind="stable")[:top_channels]
        weighted = np.zeros(features.shape[1:3])
        for channel in channels:
            upsampled = tf.image.resize(features[index, :, :, channel, None], images.shape[1:3]).numpy()[..., 0]
            span = upsampled.max() - upsampled.min()
            mask = (upsampled - upsampled.min()) / span if span > 0 else np.zeros_like(upsampled)
            probability = np.asarray(model.predict_on_batch((images[index] * mask[..., None])[None]))[0, classes[index]]
            weighted += probability * features[index, :, :, channel]
        maps.append(weighted)
    return np.asarray(maps)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--layer", default="mixed7")
    parser.add_argument("--naive-images", type=int, default=4)
    args = parser.parse_args(argv)
    import keras
    import numpy as np

    from visconvnets.explain.cams import TOP_CHANNELS, cam_pass
    from visconvnets.explain.methods import MAP_METHODS
    from visconvnets.models.build import build_model
    from visconvnets.models.geometry import receptive_field
    from visconvnets.scores.faithfulness import deletion_insertion

    keras.utils.set_random_seed(0)
    model = build_model(5, args.size, None, batch_norm_momentum=0.9)
    images = np.random.default_rng(0).uniform(0, 255, (args.images, args.size, args.size, 3)).astype("float32")
    model.predict_on_batch(images[:32])  # traced once, as in a run (evaluation has traced it)
    results: dict = {"size": args.size, "images": args.images, "steps": args.steps, "cores": os.cpu_count()}

    one_pass = cam_pass(model, images[:1], None, args.layer)  # traces nothing; warms the graph walk
    seconds, one_pass = timed(lambda: cam_pass(model, images, None, args.layer))
    results["methods_seconds"] = {"forward_backward_pass": round(seconds, 2)}
    maps = {}
    for name, method in MAP_METHODS.items():
        if method.pixels:  # the pixel methods: bench/bench_pixels.py
            continue
        seconds, maps[name] = timed(lambda method=method: method.compute(one_pass))
        results["methods_seconds"][name] = round(seconds + results["methods_seconds"]["forward_backward_pass"], 2)

    forwards = 2 * args.images * (args.steps + 1)
    batches = [images[np.arange(start, start + 32) % args.images] for start in range(0, forwards, 32)]
    plain, _ = timed(lambda: [model.predict_on_batch(batch) for batch in batches])
    geometry = receptive_field(model, args.layer)
    scored, _ = timed(lambda: deletion_insertion(model, images, maps["gradcam"], steps=args.steps, geometry=geometry))
    results["deletion_insertion"] = {
        "forwards": forwards,
        "seconds": round(scored, 2),
        "plain_forwards_seconds": round(plain, 2),
        "ratio": round(scored / plain, 2),
    }

    few = images[: args.naive_images]
    naive, naive_maps = timed(lambda: naive_scorecam(model, few, args.layer, TOP_CHANNELS))
    few_pass = cam_pass(model, few, None, args.layer)
    ours, our_maps = timed(lambda: MAP_METHODS["scorecam"].compute(few_pass))
    peak = naive_maps.clip(min=0).max(axis=(1, 2), keepdims=True)
    agreement = float(
        np.abs(np.where(peak > 0, naive_maps.clip(min=0) / np.where(peak > 0, peak, 1), 0) - our_maps).max()
    )
    results["scorecam"] = {
        "images": len(few),
        "channels": TOP_CHANNELS,
        "naive_loop_seconds": round(naive, 2),
        "batched_seconds": round(ours, 2),
        "speedup": round(naive / ours, 1),
        "max_map_difference": round(agreement, 6),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
