"""Costs of the pixel attributions, each against the passes it needs, in the same run.

Usage:
    python bench/bench_pixels.py [--size 299] [--images 32] [--steps 32] [--masks 2000] [--method-size 128]

InceptionV3 (this project's flat model, random weights):
1. integrated gradients of ``--images`` images at ``--size`` with ``--steps`` steps (images x steps
   forward+backward passes) vs the same number of plain forward+backward passes (a traced
   ``GradientTape`` over batches of 32 images): the cost of building the path points and of the batching
   (target: at most 1.2x);
2. RISE with ``--masks`` masks on one image at ``--size`` vs ``--masks`` plain forward passes
   (``predict_on_batch`` in batches of 64): the cost of making and applying the masks;
3. every pixel method's time for ``--images`` images at ``--method-size`` (their default options) beside
   Grad-CAM's (one traced forward/backward pass), each after one warm-up call (the traces are paid once per model).
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

from bench_faithfulness import timed  # noqa: E402  (this folder's scripts share their timer)


def plain_gradients(model, images, classes, batch: int = 32) -> float:
    """Seconds for one forward+backward pass of every image (input gradients of its class logit)."""
    import tensorflow as tf

    @tf.function(
        input_signature=[tf.TensorSpec((None, *images.shape[1:]), tf.float32)] * 1 + [tf.TensorSpec((None,), tf.int32)]
    )
    def gradients(inputs, indices):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            scores = tf.reduce_sum(tf.gather(model(inputs, training=False), indices, axis=1, batch_dims=1))
        return tape.gradient(scores, inputs)

    gradients(tf.constant(images[:2]), tf.constant(classes[:2]))  # traced before the clock starts
    start = time.perf_counter()
    for first in range(0, len(images), batch):
        gradients(tf.constant(images[first : first + batch]), tf.constant(classes[first : first + batch])).numpy()
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=299)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--masks", type=int, default=2000)
    parser.add_argument("--method-size", type=int, default=128)
    parser.add_argument("--layer", default=None, help="Grad-CAM's layer (default: the run's choice)")
    args = parser.parse_args(argv)
    import keras
    import numpy as np

    from visconvnets.explain.attribution import attribute
    from visconvnets.explain.cams import cam_pass, default_cam_layer, trace_passes
    from visconvnets.explain.methods import MAP_METHODS
    from visconvnets.explain.pixels.base import GRADIENT_PIXELS
    from visconvnets.explain.pixels.integrated_gradients import integrated_gradients_attributions
    from visconvnets.explain.pixels.rise import rise_attributions
    from visconvnets.models.build import build_model

    rng = np.random.default_rng(0)
    results: dict = {"size": args.size, "images": args.images, "cores": os.cpu_count()}
    keras.utils.set_random_seed(0)
    model = build_model(5, args.size, None, batch_norm_momentum=0.9)
    images = rng.uniform(0, 255, (args.images, args.size, args.size, 3)).astype("float32")
    classes = np.asarray(model.predict_on_batch(images[:32])).argmax(axis=1)[: len(images)]  # traced, as in a run

    # 1. integrated gradients vs the forward+backward passes it needs
    integrated_gradients_attributions(model, images[:1], classes[:1], steps=2)  # the one trace, paid before
    ours, _ = timed(lambda: integrated_gradients_attributions(model, images, classes, steps=args.steps))
    path_points = np.repeat(images, args.steps, axis=0)  # the same count of images, no path arithmetic
    plain = plain_gradients(model, path_points, np.repeat(classes, args.steps).astype(np.int32))
    results["integrated_gradients"] = {
        "steps": args.steps,
        "passes": args.images * args.steps,
        "images_per_batch": max(1, GRADIENT_PIXELS // (args.size * args.size)),
        "seconds": round(ours, 2),
        "plain_forward_backward_seconds": round(plain, 2),
        "ratio": round(ours / plain, 2),
    }
    del path_points

    # 2. RISE vs the forward passes it needs
    rise_attributions(model, images[:1], classes[:1], masks=8)  # warm
    ours, _ = timed(lambda: rise_attributions(model, images[:1], classes[:1], masks=args.masks))
    batches = [np.repeat(images[:1], min(64, args.masks - start), axis=0) for start in range(0, args.masks, 64)]
    model.predict_on_batch(batches[0])
    model.predict_on_batch(batches[-1])  # both batch sizes traced before the clock
    plain, _ = timed(lambda: [model.predict_on_batch(batch) for batch in batches])
    results["rise"] = {
        "masks": args.masks,
        "seconds": round(ours, 2),
        "plain_forwards_seconds": round(plain, 2),
        "ratio": round(ours / plain, 2),
    }

    # 3. every pixel method beside Grad-CAM, at the method size, default options
    keras.utils.set_random_seed(0)
    small = build_model(5, args.method_size, None, batch_norm_momentum=0.9)
    pictures = rng.uniform(0, 255, (args.images, args.method_size, args.method_size, 3)).astype("float32")
    layer = args.layer or default_cam_layer(small)
    small.predict_on_batch(pictures)
    trace_passes(small, layer)  # as a run does before its many passes
    cam_pass(small, pictures[:2], None, layer)
    seconds, _ = timed(lambda: MAP_METHODS["gradcam"].compute(cam_pass(small, pictures, None, layer)))
    methods = {"gradcam": round(seconds, 2)}
    for name, method in MAP_METHODS.items():
        if method.pixels:
            attribute(small, pictures[:2], name)  # its traces, paid before the clock
            seconds, _ = timed(lambda name=name: attribute(small, pictures, name))
            methods[name] = round(seconds, 2)
    results["methods_seconds"] = {"size": args.method_size, "layer": layer, **methods}
    results["methods_vs_gradcam"] = {name: round(value / methods["gradcam"], 1) for name, value in methods.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
