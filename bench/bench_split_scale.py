"""Split at scale: time per file and peak memory of the whole split (decode, SHA-256, difference hash,
near-duplicate search, plan, hard links) from a few thousand files to 100,000, and the near-duplicate
search alone on 100,000 hashes.

Usage:
    python bench/bench_split.py --files 4000 100000
    python bench/bench_split_scale.py --files 4000 100000 [--root /tmp/visconvnets-scale]

Each size runs in a fresh process (so peak memory is that size's own): a tree of small generated
JPEGs (64x48, 5 classes, 1% of them resized and re-encoded copies of another file of the same class,
the near-duplicates the split must keep together) is written once, then split with
``--mode hardlink`` (no file bytes copied, so the disk's write-back does not hide the per-file cost).
Peak memory is ``ru_maxrss`` of the main process and, separately, of its checking workers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CLASSES = ("daisy", "dandelion", "rose", "sunflower", "tulip")
COPY_EVERY = 100  # one file in 100 is a near-duplicate of the file 50 places before it


def _picture(seed: int) -> Image.Image:
    small = np.random.default_rng(seed).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize((64, 48), Image.Resampling.BICUBIC)


def _write_chunk(arguments: tuple[str, int, int]) -> int:
    root, start, stop = arguments
    for index in range(start, stop):
        folder = Path(root) / CLASSES[index % len(CLASSES)]
        if index % COPY_EVERY == COPY_EVERY - 1:  # a resized, re-encoded copy of an earlier file of its class
            picture = _picture(index - 50).resize((56, 42), Image.Resampling.LANCZOS).resize((64, 48))
            quality = 70
        else:
            picture, quality = _picture(index), 90
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        (folder / f"{index:06d}.jpg").write_bytes(buffer.getvalue())
    return stop - start


def make_tree(root: Path, count: int) -> Path:
    tree = root / f"tree_{count}"
    if (tree / ".complete").exists():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    for name in CLASSES:
        (tree / name).mkdir(parents=True)
    chunks = [(str(tree), start, min(count, start + 2000)) for start in range(0, count, 2000)]
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        written = sum(pool.map(_write_chunk, chunks))
    (tree / ".complete").write_text(str(written))
    return tree


def measure_one(root: Path, count: int) -> dict:
    """Split a tree of ``count`` files in this process; its time, memory and near-duplicate groups."""
    from visconvnets.data import split as splitting
    from visconvnets.data.split.near_duplicates import near_duplicate_pairs

    tree = make_tree(root, count)
    destination = root / f"split_{count}"
    shutil.rmtree(destination, ignore_errors=True)
    started = time.perf_counter()
    plan = splitting.split_dataset(tree, destination, mode="hardlink")
    seconds = time.perf_counter() - started
    peak_main = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the split's, before the checks below
    _, group_sizes = np.unique(plan.groups[plan.splits >= 0], return_counts=True)
    hashes = np.random.default_rng(0).integers(0, 2**64 - 1, size=count, dtype=np.uint64, endpoint=True)
    search_started = time.perf_counter()
    near_duplicate_pairs(hashes, splitting.DEFAULT_DISTANCE)
    search = time.perf_counter() - search_started
    shutil.rmtree(destination, ignore_errors=True)
    return {
        "files": count,
        "seconds": round(seconds, 2),
        "milliseconds_per_file": round(1000 * seconds / count, 3),
        "peak_mb_main": round(peak_main, 1),
        "peak_mb_worker": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "groups_of_two_or_more": int(np.sum(group_sizes > 1)),
        "planted_copies": count // COPY_EVERY,
        "random_hash_search_seconds": round(search, 3),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, nargs="+", default=[4000, 100_000], help="tree sizes, one process each")
    parser.add_argument("--root", type=Path, default=Path("/tmp/visconvnets-scale"), help="trees and splits go here")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size in this process
    args = parser.parse_args(argv)
    args.root.mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(measure_one(args.root, args.one)))
        return
    rows = []
    for count in args.files:
        make_tree(args.root, count)  # generated outside the measured process
        done = subprocess.run(
            [sys.executable, __file__, "--one", str(count), "--root", str(args.root)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    print(f"\nmachine: {os.cpu_count()} cores")
    print(
        "| files | split (s) | ms per file | peak MB, main | peak MB, a worker | groups of 2+ | planted copies "
        "| search of random hashes (s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['files']:,} | {row['seconds']} | {row['milliseconds_per_file']} | {row['peak_mb_main']} | "
            f"{row['peak_mb_worker']} | {row['groups_of_two_or_more']} | {row['planted_copies']} | "
            f"{row['random_hash_search_seconds']} |"
        )


if __name__ == "__main__":
    main()
