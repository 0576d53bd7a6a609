"""Every stage of a run against the model passes it needs: the demo and a Keras tutorial CNN, code before and
after, side by side in one run.

Usage:
    python bench/bench_stages.py [--before 17b8fdb] [--photos ../shared/flowers-sample] [--size 128]
        [--epochs 12] [--seed 42] [--jobs demo tutorial] [--out bench/results]

Jobs, each run by both codes (``--before``, extracted with ``git archive``; and this working tree), one after
the other, each in its own process:

* ``demo``: ``model_training_and_visualization.py --demo --seed SEED`` (the README's first command);
* ``tutorial``: the Keras image-classification tutorial's CNN (``bench_fused_relu.tutorial_cnn``: augmentation
  inside, fused ReLUs, logits) trained here with plain Keras on ``--photos`` (split with this project's
  splitter, seeded), saved, then explained with ``--model tutorial.keras --data SPLIT`` as a user would.

Prints, per job, one row per stage: the seconds before and after, the passes the run counted (forward,
gradient, training image-passes; ``metrics.json`` -> ``timings.costs`` of the after run), what those passes
cost at the after run's probe, and each run's ratio of seconds to that cost (the before run did the same work:
the same settings, and its passes priced at the after run's probe). Writes ``--out``/stages.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
BEFORE = "17b8fdb"  # the code before the cost model (2026-12-05)


def one_run(code: Path, arguments: list[str], output: Path) -> dict:
    """``model_training_and_visualization.py`` of ``code`` with ``arguments`` into ``output``: {"wall": seconds of
    the whole process, "timings": metrics.json's}."""
    begun = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(code / "model_training_and_visualization.py"), *arguments, "--output", str(output)],
        cwd=code,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(code)},
    )
    wall = time.perf_counter() - begun
    if done.returncode:
        raise SystemExit(f"{code}: {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    metrics = json.loads((output / "metrics.json").read_text())
    return {"wall": round(wall, 1), "timings": metrics["timings"], "accuracy": metrics["test"]["accuracy"]}


def tutorial_job(folder: Path, photos: Path, size: int, epochs: int, seed: int) -> list[str]:
    """The tutorial CNN trained on a seeded split of ``photos``, saved in ``folder``: its run's arguments."""
    from bench.bench_fused_relu import train_tutorial
    from visconvnets.data.split import split_dataset

    split = folder / "split"
    split_dataset(photos, split, workers=1, seed=seed)
    model, accuracy = train_tutorial(split, size, epochs, seed)
    model.save(folder / "tutorial.keras")
    print(f"tutorial CNN: validation accuracy {accuracy:.2f} after {epochs} epochs", flush=True)
    return ["--model", str(folder / "tutorial.keras"), "--data", str(split), "--seed", str(seed)]


def rows_of(before: dict, after: dict) -> list[dict]:
    """One row per stage of the after run (in its order), with the before run's seconds beside it."""
    costs = after["timings"].get("costs", {})
    rows = []
    for name, cost in costs.items():
        priced = cost["pass_seconds"]
        then = before["timings"].get(name)
        rows.append(
            {
                "stage": name,
                "before": then,
                "after": cost["seconds"],
                "passes": cost["passes"],
                "pass_seconds": priced,
                "ratio_before": round(then / priced, 2) if priced and isinstance(then, (int, float)) else None,
                "ratio_after": cost["ratio"],
            }
        )
    return rows


def table(job: str, before: dict, after: dict, rows: list[dict]) -> str:
    lines = [
        f"{job}: whole process {before['wall']} s before, {after['wall']} s after; test accuracy "
        f"{before['accuracy']:.3f} / {after['accuracy']:.3f}; probe "
        f"{1000 * after['timings']['pass_costs']['forward']:.2f} ms forward, "
        f"{1000 * after['timings']['pass_costs']['gradient']:.2f} ms gradient per image",
        f"{'stage':<22}{'before s':>10}{'after s':>10}{'pass s':>9}{'ratio':>14}  passes",
    ]
    for row in rows:
        ratios = "/".join(
            "-" if value is None else f"{value:.2f}" for value in (row["ratio_before"], row["ratio_after"])
        )
        passes = ", ".join(f"{kind} {images:g}" for kind, images in row["passes"].items()) or "none"
        before_seconds = "-" if row["before"] is None else f"{row['before']:.1f}"
        lines.append(
            f"{row['stage']:<22}{before_seconds:>10}{row['after']:>10.1f}{row['pass_seconds']:>9.1f}{ratios:>14}  "
            + passes
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=BEFORE, help="the commit whose code is the baseline")
    parser.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "flowers-sample")
    parser.add_argument("--size", type=int, default=128, help="the tutorial CNN's input side")
    parser.add_argument("--epochs", type=int, default=12, help="the tutorial CNN's training epochs")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--jobs", nargs="+", default=["demo", "tutorial"], choices=["demo", "tutorial"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    found = {}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        before = folder / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        for job in args.jobs:
            if job == "demo":
                arguments = ["--demo", "--seed", str(args.seed)]
            else:
                arguments = tutorial_job(folder, args.photos.resolve(), args.size, args.epochs, args.seed)
            runs = {
                label: one_run(code, arguments, folder / f"{job}_{label}")
                for label, code in (("before", before), ("after", ROOT))
            }
            rows = rows_of(runs["before"], runs["after"])
            print(table(job, runs["before"], runs["after"], rows), flush=True)
            found[job] = {"runs": runs, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stages.json").write_text(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
