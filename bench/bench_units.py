"""Dataset examples and concepts against what they must cost, on a finished run's model.

Usage:
    python bench/bench_units.py [--run outputs/demo] [--images 1000] [--filters 64] [--repeats 3]

1. Dataset examples (``dataset_examples.scan_units``) for ``--filters`` filters of each default filter layer
   over ``--images`` images (the run's split, flipped and repeated up to that count), against one forward
   pass of the whole model over the same images (``forward.probabilities``, traced, the same batches). The
   scan reads every layer in one pass, cut after the deepest. Best of ``--repeats`` after a warm-up; the
   peak memory the scan allocates (``tracemalloc``, NumPy's arrays) at a quarter and at all the images: a
   running top-k is flat in the number of images.
2. Concepts (``concepts.concepts``) for one class of the run (its first test class, all its test images, the
   run's concept settings): seconds, after a warm-up on two images.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.bench_faithfulness import timed  # noqa: E402  (after the path is set)
from bench.bench_feature_vis import run_split  # noqa: E402


def _batches(images, size: int = 32):
    return (images[start : start + size] for start in range(0, len(images), size))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("outputs/demo"), help="a finished run's folder")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import numpy as np

    from visconvnets.data.images import load_images
    from visconvnets.explain.concepts import concepts
    from visconvnets.explain.dataset_examples import scan_units
    from visconvnets.models import build
    from visconvnets.models.forward import probabilities
    from visconvnets.models.layers import find_layer
    from visconvnets.models.saved import load_trained_model
    from visconvnets.settings import outputs

    model, classes = load_trained_model(args.run / outputs.MODEL)
    config = json.loads((args.run / outputs.CONFIG).read_text())["config"]
    split = run_split(args.run)
    size = int(model.input_shape[1])
    files = sorted(split.rglob("*.jpg"))
    found = load_images(files, size)
    images = np.concatenate([found, found[:, :, ::-1]])  # flipped copies: twice the distinct images
    images = np.resize(images, (args.images, *images.shape[1:])).astype(np.float32)
    results = {"run": str(args.run), "images": len(images), "distinct": len(found) * 2, "size": size}

    layers = build.default_filter_layers(model)
    filters = {name: list(range(min(args.filters, int(find_layer(model, name).output.shape[-1])))) for name in layers}
    for name in layers:  # one layer at a time, and all of them in one pass
        scan_units(model, {name: filters[name]}, _batches(images[:64]))
    scan_units(model, filters, _batches(images[:64]))
    probabilities(model, images[:32])
    forward_seconds, scan_seconds, per_layer = [], [], {name: [] for name in layers}
    for _ in range(args.repeats):
        forward_seconds.append(timed(lambda: [probabilities(model, part) for part in _batches(images)])[0])
        scan_seconds.append(timed(lambda: scan_units(model, filters, _batches(images)))[0])
        for name in layers:
            one = {name: filters[name]}
            per_layer[name].append(timed(lambda one=one: scan_units(model, one, _batches(images)))[0])
    results["forward_seconds"] = min(forward_seconds)
    results["examples_all_layers_seconds"] = min(scan_seconds)
    results["examples_per_layer_seconds"] = {name: min(times) for name, times in per_layer.items()}
    results["ratio_all_layers"] = round(min(scan_seconds) / min(forward_seconds), 3)
    results["ratio_per_layer"] = {
        name: round(min(times) / min(forward_seconds), 3) for name, times in per_layer.items()
    }
    peaks = {}
    for count in (len(images) // 4, len(images)):
        tracemalloc.start()
        scan_units(model, filters, _batches(images[:count]))
        peaks[count] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    results["scan_peak_mb"] = {str(count): round(peak, 2) for count, peak in peaks.items()}

    labels = [classes.index(Path(path).parent.name) for path in files if Path(path).parent.parent.name == "test"]
    test = [path for path in files if Path(path).parent.parent.name == "test"]
    chosen = [path for path, label in zip(test, labels) if label == labels[0]][: config.get("concept_images", 24)]
    class_images = load_images(chosen, size)
    layer = config.get("concept_layer") or config.get("gradcam_layer")
    settings = {"count": config.get("concept_count", 6), "crops_per_image": config.get("concept_crops", 8)}
    concepts(model, class_images[:2], layer, labels[0], **settings)  # the warm-up pays the traces
    seconds, found = timed(lambda: concepts(model, class_images, layer, labels[0], **settings))
    results["concepts"] = {
        "class": classes[labels[0]],
        "layer": layer,
        "images": len(class_images),
        "crops": len(found.crops),
        "seconds": round(seconds, 2),
        "importances": [round(float(value), 4) for value in found.importances],
        "reconstruction_error": round(found.reconstruction, 4),
    }
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
