"""float32 against mixed_bfloat16 (or any Keras policy) for training and prediction, in one run.

Usage:
    python bench/bench_precision.py [--size 150] [--batch 16] [--rounds 2] [--policies float32 mixed_bfloat16]

Each measurement is a fresh process (the policy is per process), policies alternating round by round
so a change in the machine's speed state hits both alike. In each: this project's InceptionV3
classifier (random weights) at ``--size``; the first ``train_on_batch`` (graph tracing included), then
images/s over 6 training steps after 2 warm-up steps, and images/s of ``predict_on_batch`` at batch 32
after a warm-up. Prints a Markdown table and the ratios to the first policy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEASURE = """
import json, os, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras
from visconvnets.models.build import build_model
policy, size, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = build_model(5, size, None, precision=policy)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
rng = np.random.default_rng(0)
images = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
labels = rng.integers(0, 5, batch)
start = time.perf_counter(); model.train_on_batch(images, labels); first = time.perf_counter() - start
model.train_on_batch(images, labels)
start = time.perf_counter()
for _ in range(6):
    model.train_on_batch(images, labels)
train = 6 * batch / (time.perf_counter() - start)
many = rng.uniform(0, 255, (32, size, size, 3)).astype("float32")
model.predict_on_batch(many)
start = time.perf_counter()
for _ in range(4):
    model.predict_on_batch(many)
predict = 128 / (time.perf_counter() - start)
print(json.dumps({"first_step": first, "train": train, "predict": predict}))
"""


def measure(policy: str, size: int, batch: int) -> dict:
    found = subprocess.run(
        [sys.executable, "-c", MEASURE, policy, str(size), str(batch)], cwd=ROOT, capture_output=True, text=True
    )
    if found.returncode:
        raise SystemExit(found.stderr[-2000:])
    return json.loads(found.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=150)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"])
    args = parser.parse_args(argv)
    results = {policy: [] for policy in args.policies}
    for round_number in range(args.rounds):
        for policy in args.policies:
            results[policy].append(measure(policy, args.size, args.batch))
            print(f"round {round_number + 1} {policy}: {results[policy][-1]}", flush=True)
    print(f"\nInceptionV3 at {args.size} px, training batch {args.batch}, prediction batch 32; median of {args.rounds}")
    print("| policy | first step (s) | training (images/s) | prediction (images/s) |\n|---|---:|---:|---:|")
    medians = {}
    for policy, runs in results.items():
        medians[policy] = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
        row = medians[policy]
        print(f"| {policy} | {row['first_step']:.1f} | {row['train']:.1f} | {row['predict']:.1f} |")
    base = medians[args.policies[0]]
    for policy in args.policies[1:]:
        ratio = {key: medians[policy][key] / base[key] for key in ("train", "predict")}
        print(f"{policy} vs {args.policies[0]}: training {ratio['train']:.2f}x, prediction {ratio['predict']:.2f}x")


if __name__ == "__main__":
    main()
