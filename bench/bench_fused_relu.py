"""Filter patterns of units behind ReLUs, the ReLUs' own gradient against the redirected ReLU and the objective
read before the ReLU, side by side, with Adam's step for the spectral parameterisations.

Usage:
    python bench/bench_fused_relu.py [--photos ../shared/flowers-sample] [--size 128] [--epochs 12]
        [--filters 64] [--steps 80] [--vgg-size 64] [--run outputs/demo] [--variants ...] [--out bench/results]

1. Models: a Keras tutorial CNN (augmentation inside, ``Rescaling``, three ``Conv2D(..., activation="relu")``
   with pooling, ``Dropout``, a dense head on logits) trained with plain Keras on ``--photos`` (split with
   this project's splitter, seeded) for ``--epochs``, as a user would; VGG16 with random weights at
   ``--vgg-size`` (fused ReLUs too); and with ``--run``, a finished run's model on its own test split.
2. For each model's default filter layers (the blog's fractions of the depth), up to ``--filters`` filters
   each, and each of ``--variants`` (``parameterization:step:relu``; relu ``plain``, ``redirect``, ``before``
   or ``both``, see ``--help``): the units whose pattern value is exactly 0 although a test photo activates
   them, the share of patterns at or above the 99th percentile of the test photos' values, the share of
   pattern values pinned at 0 or 255, and the seconds the ascents took.

Prints one row per setting and writes them to ``--out``/fused_relu.json.
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


def tutorial_cnn(size: int, classes: int):
    """The Keras image-classification tutorial's model, as it teaches it."""
    import keras

    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            layers.RandomFlip("horizontal"),
            layers.RandomRotation(0.1),
            layers.RandomZoom(0.1),
            layers.Rescaling(1.0 / 255),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(classes),
        ],
        name="tutorial_cnn",
    )


def train_tutorial(split: Path, size: int, epochs: int, seed: int = 1):
    """The tutorial CNN trained on ``split``/train with plain Keras (validation on ``split``/validation)."""
    import keras

    keras.utils.set_random_seed(seed)
    options = dict(image_size=(size, size), batch_size=16, seed=seed)
    train = keras.utils.image_dataset_from_directory(split / "train", **options)
    validation = keras.utils.image_dataset_from_directory(split / "validation", **options)
    model = tutorial_cnn(size, len(train.class_names))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    history = model.fit(train, validation_data=validation, epochs=epochs, verbose=0)
    return model, float(history.history["val_accuracy"][-1])


def measure(model, layers: dict, images, size: int, settings, seed: int = 0) -> dict:
    """Zero patterns, share at the 99th percentile, saturated pixels and seconds over every layer's filters."""
    import numpy as np

    from visconvnets.explain.dataset_examples import scan_units
    from visconvnets.explain.filters import ascend, filter_activations

    values, patterns, seconds = {}, [], 0.0
    for name, filters in layers.items():
        started = time.perf_counter()
        pattern = ascend(model, name, filters, size, settings, seed)
        seconds += time.perf_counter() - started
        values[name] = filter_activations(model, name, pattern, filters, settings.border, settings.objective)
        patterns.append(pattern)
    batches = (images[start : start + 32] for start in range(0, len(images), 32))
    scanned = scan_units(model, layers, batches, 1, values, settings.border, settings.objective)
    zero = active = at_99 = units = 0
    for name in layers:
        activated = scanned[name].values[:, 0] > 0  # some test photo drives the unit above zero
        zero += int(np.sum((values[name] == 0) & activated))  # a ReLU never fired (a linear unit may be < 0)
        active += int(activated.sum())
        at_99 += int(np.sum(scanned[name].percentiles >= 99.0))
        units += len(values[name])
    pixels = np.concatenate([pattern.reshape(-1) for pattern in patterns])
    return {
        "units": units,
        "zero_though_active": zero,
        "active": active,
        "share_at_99th": round(at_99 / units, 3),
        "saturated_pixels": round(float(np.mean((pixels <= 0.5) | (pixels >= 254.5))), 4),
        "seconds": round(seconds, 1),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "flowers-sample")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=[
            *("pixel:0:plain", "pixel:0:both"),
            *("fourier:0.5:plain", "fourier:0.5:redirect", "fourier:0.5:both"),
            *("fourier:0.2:plain", "fourier:0.2:redirect", "fourier:0.2:both", "fourier:0.2:both@0.3"),
            *("fourier:0.2:before", "maco:0.5:plain", "maco:0.2:both"),
        ],
        help="parameterization:Adam step (0: the default):relu, relu plain (the ReLUs' own gradient), redirect "
        "(every ReLU redirected), before (the objective before the unit's ReLU: off slope 1) or both (redirected, "
        "and the unit's ReLU with --slope where off; both@0.3: that slope) or slope (the off slope alone)",
    )
    parser.add_argument("--vgg-size", type=int, default=64, help="0: skip VGG16")
    parser.add_argument("--slope", type=float, default=0.1, help="the off slope of 'both' and 'slope' variants")
    parser.add_argument("--run", type=Path, help="also a finished run's model (e.g. outputs/demo)")
    parser.add_argument("--skip-tutorial", action="store_true", help="no tutorial CNN (with --run)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    import keras

    from bench.bench_feature_vis import run_split
    from visconvnets.data.images import load_images
    from visconvnets.data.split import split_dataset
    from visconvnets.models.build import default_filter_layers
    from visconvnets.models.layers import find_layer
    from visconvnets.models.saved import load_trained_model
    from visconvnets.settings import outputs
    from visconvnets.settings.stages import AscentSettings

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        split = Path(folder) / "split"
        split_dataset(args.photos, split, workers=1, seed=42)
        test = sorted((split / "test").rglob("*.jpg"))
        models = []  # (label, model, input side, test photos)
        if not args.skip_tutorial:
            tutorial, accuracy = train_tutorial(split, args.size, args.epochs)
            print(
                f"tutorial CNN: validation accuracy {accuracy:.2f} after {args.epochs} epochs, {len(test)} test photos"
            )
            models.append(("tutorial_cnn", tutorial, args.size, test))
        if args.vgg_size:
            keras.utils.set_random_seed(0)
            vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(args.vgg_size,) * 2 + (3,))
            models.append(("vgg16_random", vgg, args.vgg_size, test))
        if args.run:
            run_model, _ = load_trained_model(args.run / outputs.MODEL)
            run_test = sorted((run_split(args.run) / "test").rglob("*.*"))
            models.append((f"run {args.run.name}", run_model, int(run_model.input_shape[1]), run_test))
        for label, model, size, photos in models:
            images = load_images(photos, size)
            layers = {}
            for name in default_filter_layers(model):
                channels = int(find_layer(model, name).output.shape[-1])
                layers[name] = list(range(min(args.filters, channels)))
            for variant in args.variants:
                parameterization, rate, relu = variant.split(":")
                relu, _, given = relu.partition("@")  # both@0.3: that off slope
                settings = AscentSettings(
                    steps=args.steps,
                    parameterization=parameterization,
                    learning_rate=float(rate) or AscentSettings.learning_rate,
                    redirect_relu=relu in ("redirect", "both"),
                    off_slope={
                        "both": float(given or args.slope),
                        "slope": float(given or args.slope),
                        "before": 1.0,
                    }.get(relu, 0.0),
                )
                found = measure(model, layers, images, size, settings)
                rows.append({"model": label, "variant": variant, **found})
                print(json.dumps(rows[-1]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fused_relu.json").write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
