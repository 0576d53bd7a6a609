"""Split benchmark: files/s of our split (decode check + SHA-256) vs split-folders on one tree.

Usage:
    python bench/bench_split.py [--tree /tmp/visconvnets-bench-tree] [--files-per-class 865] [--repeats 3]

Generates a Kaggle-sized tree (5 classes, about 4,300 JPEGs of 320x240) once, then times, in one run
and interleaved, split-folders' ratio() (copies without opening an image) and our split in copy and
hardlink modes (every file hashed and fully decoded). Before each timed run the page cache's dirty
pages are flushed (``os.sync``), so no method pays for another's writes. Reports the median of
``--repeats`` wall times, and the one-core cost of a plain Pillow decode of the same tree.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from visconvnets.data import split as splitting  # noqa: E402

CLASSES = ("daisy", "dandelion", "rose", "sunflower", "tulip")


def make_tree(root: Path, files_per_class: int) -> int:
    """Write smooth, photo-sized JPEGs (about 10-20 kB each) unless the tree is already there."""
    marker = root / ".complete"
    if marker.exists():
        return sum(1 for _ in root.rglob("*.jpg"))
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[0:240, 0:320].astype(np.float32)
    for class_name in CLASSES:
        (root / class_name).mkdir(parents=True)
        for index in range(files_per_class):
            phase = rng.uniform(0, 6.28, 3)
            frequency = rng.uniform(0.01, 0.08, 3)
            pixels = np.stack(
                [128 + 100 * np.sin(frequency[c] * (rows + columns * (c + 1)) + phase[c]) for c in range(3)], -1
            )
            pixels += rng.normal(0, 12, pixels.shape)
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                root / class_name / f"{class_name}_{index:05d}.jpg", quality=90
            )
    marker.touch()
    return files_per_class * len(CLASSES)


def one_core_decode_seconds(tree: Path) -> float:
    """Seconds to read and fully decode every JPEG of the tree in this one process."""
    start = time.perf_counter()
    for path in sorted(tree.rglob("*.jpg")):
        with Image.open(path) as image:
            image.load()
    return time.perf_counter() - start


def time_split_folders(tree: Path, output: Path) -> float:
    import splitfolders

    start = time.perf_counter()
    splitfolders.ratio(str(tree), output=str(output), seed=42, ratio=(0.65, 0.15, 0.2))
    return time.perf_counter() - start


def time_ours(tree: Path, output: Path, mode: str) -> float:
    start = time.perf_counter()
    splitting.split_dataset(tree, output, validation_fraction=0.15, test_fraction=0.2, mode=mode)
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=Path, default=Path(tempfile.gettempdir()) / "visconvnets-bench-tree")
    parser.add_argument("--files-per-class", type=int, default=865)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--files",
        type=int,
        nargs="+",
        help="instead: time per file and peak memory at these tree sizes "
        "(bench_split_scale.py; e.g. --files 4000 100000)",
    )
    args = parser.parse_args(argv)
    if args.files:
        from bench_split_scale import main as scale_main

        scale_main(["--files", *map(str, args.files)])
        return
    count = make_tree(args.tree, args.files_per_class)
    work = Path(tempfile.mkdtemp(prefix="visconvnets-bench-", dir=args.tree.parent))
    timings: dict[str, list[float]] = {"split-folders": [], "ours copy": [], "ours hardlink": []}
    try:
        for repeat in range(args.repeats):
            for name in timings:
                output = work / f"{name.replace(' ', '-')}-{repeat}"
                os.sync()
                if name == "split-folders":
                    seconds = time_split_folders(args.tree, output)
                else:
                    seconds = time_ours(args.tree, output, name.split()[1])
                timings[name].append(seconds)
                shutil.rmtree(output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    best = {name: statistics.median(values) for name, values in timings.items()}
    baseline = best["split-folders"]
    decode_seconds = one_core_decode_seconds(args.tree)
    print(
        f"tree: {count} JPEGs 320x240 at {args.tree}; {os.cpu_count()} cores; "
        f"{platform.processor() or platform.machine()}"
    )
    print(f"plain Pillow decode of every file on one core: {decode_seconds:.2f} s")
    print(f"{'method':<16}{'median s':>9}{'files/s':>10}{'x split-folders time':>23}")
    for name, seconds in best.items():
        print(f"{name:<16}{seconds:>9.2f}{count / seconds:>10.0f}{seconds / baseline:>23.2f}")
    print(json.dumps({name: [round(value, 3) for value in values] for name, values in timings.items()}))


if __name__ == "__main__":
    main()
