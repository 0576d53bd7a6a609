"""Training-pipeline benchmark at 299x299, all in one run.

Usage:
    python bench/bench_training.py [--images-per-class 64] [--steps 8] [--batch-size 32]

1. Pipeline alone: images/s of our tf.data pipeline with augmentation (first pass: decode + resize +
   augment; cached pass: augment only) vs the blog's legacy ImageDataGenerator
   (``../shared/bench/seed_style.py``) with ``flow_from_directory`` over the same files.
2. Training throughput: images/s of ``model.fit`` on InceptionV3 (from scratch, 299 px) fed by the real
   pipeline (memory cache, no cache, disk cache: ``--feeds``) vs the same model fed pre-loaded tensors
   (already decoded and resized, no augmentation).
   Each measurement runs in a fresh process (so neither inherits the other's threads or memory),
   interleaved, ``--repeats`` times; 2 warm-up steps (tracing) are excluded. Target: pipeline >= 0.95
   of pre-loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# how the model is fed: decoded in advance; our pipeline with its memory cache, with no cache (data larger
# than memory, decoded every epoch), with the decoded images cached on disk (--cache-dir)
FEEDS = ("pre-loaded tensors", "real pipeline", "no cache", "disk cache")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_source(images_per_class: int, folder: Path) -> Path:
    """A 5-class folder of 320x240 JPEGs, taken from the split benchmark's generated tree."""
    from bench_split import CLASSES, make_tree

    tree = Path(tempfile.gettempdir()) / "visconvnets-bench-tree"
    make_tree(tree, 865)
    for class_name in CLASSES:
        (folder / class_name).mkdir(parents=True, exist_ok=True)
        for path in sorted((tree / class_name).glob("*.jpg"))[:images_per_class]:
            shutil.copyfile(path, folder / class_name / path.name)
    return folder


def time_our_pipeline(paths, labels, batch_size: int, image_size: int) -> dict:
    from visconvnets.data import pipelines as data_tools

    augmenter = data_tools.make_augmenter(seed=0)
    dataset = data_tools.make_dataset(
        paths, labels, image_size, batch_size, training=True, augmenter=augmenter, cache=True
    )
    results = {}
    for name in ("first pass (decode+augment)", "cached pass (augment)"):
        start, count = time.perf_counter(), 0
        for images, _ in dataset:
            count += int(images.shape[0])
        results[name] = count / (time.perf_counter() - start)
    return results


def time_seed_generator(folder: Path, batch_size: int, image_size: int, count: int) -> float:
    from seed_style import seed_style_augmenter

    generator = seed_style_augmenter().flow_from_directory(
        str(folder), target_size=(image_size, image_size), batch_size=batch_size, class_mode="sparse", seed=0
    )
    start, seen = time.perf_counter(), 0
    while seen < count:
        images, _ = next(generator)
        seen += images.shape[0]
    return seen / (time.perf_counter() - start)


def time_training(model_factory, dataset, steps: int) -> tuple[float, list[float]]:
    """(steps/s of fit over ``steps`` batches after a one-epoch warm-up of 2 steps, each step's seconds:
    a steady slow step tells a slow process from a stall)."""
    import keras

    model = model_factory()
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    repeated = dataset.repeat()
    model.fit(repeated, steps_per_epoch=2, epochs=1, verbose=0)
    step_seconds = []

    class Steps(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            step_seconds.append(round(time.perf_counter() - self.started, 3))

    start = time.perf_counter()
    model.fit(repeated, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[Steps()])
    return steps / (time.perf_counter() - start), step_seconds


def train_once(args) -> tuple[float, list[float]]:
    """(images/s of fit in this process for one feeding method (``--only``), each step's seconds)."""
    import numpy as np
    import tensorflow as tf

    from visconvnets.data import pipelines as data_tools
    from visconvnets.data.images import load_images
    from visconvnets.data.split import list_class_files
    from visconvnets.models import build

    classes = sorted(path.name for path in args.source.iterdir() if path.is_dir())
    files = list_class_files(args.source, classes)
    paths = [args.source / relative for relative, _ in files]
    labels = [classes.index(name) for _, name in files]
    if args.only != "pre-loaded tensors":
        cache = {"real pipeline": True, "no cache": False, "disk cache": args.source.parent / "cache" / "train"}
        dataset = data_tools.make_dataset(
            paths,
            labels,
            args.image_size,
            args.batch_size,
            training=True,
            augmenter=data_tools.make_augmenter(seed=0),
            cache=cache[args.only],
        )
        if args.only == "disk cache":  # the first epoch writes the cache; the timed steps read it
            shutil.rmtree(args.source.parent / "cache", ignore_errors=True)
            (args.source.parent / "cache").mkdir()
            for _ in dataset:
                pass
    else:
        images = load_images(paths, args.image_size)
        dataset = data_tools.without_autotuning(  # as make_dataset: no autotuning thread to wait for
            tf.data.Dataset.from_tensor_slices((images, np.array(labels, "int32")))
            .shuffle(len(paths))
            .batch(args.batch_size)
            .prefetch(2)
        )

    def factory():
        return build.build_model(len(classes), args.image_size, None)

    steps_per_second, step_seconds = time_training(factory, dataset, args.steps)
    return steps_per_second * args.batch_size, step_seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images-per-class", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=299)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", choices=FEEDS, help=argparse.SUPPRESS)
    parser.add_argument("--feeds", nargs="+", choices=FEEDS, default=list(FEEDS), help="feeding methods to time")
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only:
        images_per_second, step_seconds = train_once(args)
        print(json.dumps({"images/s": images_per_second, "step seconds": step_seconds}))
        return
    import numpy as np

    from visconvnets.data.split import list_class_files

    work = Path(tempfile.mkdtemp(prefix="visconvnets-train-bench-"))
    try:
        source = make_source(args.images_per_class, work / "source")
        classes = sorted(path.name for path in source.iterdir())
        files = list_class_files(source, classes)
        paths = [source / relative for relative, _ in files]
        labels = [classes.index(name) for _, name in files]
        results = {"images": len(paths), "image_size": args.image_size, "batch_size": args.batch_size}
        results["ours"] = time_our_pipeline(paths, labels, args.batch_size, args.image_size)
        results["seed ImageDataGenerator"] = time_seed_generator(source, args.batch_size, args.image_size, len(paths))
        print(json.dumps(results, indent=1))
        if not args.skip_training:
            import subprocess

            measured: dict[str, list[float]] = {name: [] for name in args.feeds}
            steps_seen: dict[str, list[list[float]]] = {name: [] for name in args.feeds}
            for _ in range(args.repeats):
                for name in measured:
                    command = [
                        sys.executable,
                        __file__,
                        "--only",
                        name,
                        "--source",
                        str(source),
                        "--steps",
                        str(args.steps),
                        "--batch-size",
                        str(args.batch_size),
                        "--image-size",
                        str(args.image_size),
                    ]
                    done = subprocess.run(command, capture_output=True, text=True, check=True)
                    found = json.loads(done.stdout.strip().splitlines()[-1])
                    measured[name].append(found["images/s"])
                    steps_seen[name].append(found["step seconds"])
            results["training images/s"] = measured
            results["training step seconds"] = steps_seen
            medians = {name: float(np.median(values)) for name, values in measured.items()}
            for name in medians:
                if name != "pre-loaded tensors" and "pre-loaded tensors" in medians:
                    results[f"{name} / pre-loaded"] = medians[name] / medians["pre-loaded tensors"]
        print(json.dumps(results, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
