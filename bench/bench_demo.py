"""The demo's whole process, timed stage by stage over several runs, with the machine's speed.

Usage:
    python bench/bench_demo.py [--runs 3] [--seeds 42] [--output /tmp/bench_demo] [-- extra demo flags]

Each run is a fresh process, ``python model_training_and_visualization.py --demo --output DIR/run_N
--seed S`` (plus any flags after ``--``), timed from start to exit as a user would time it. Before
each run a fixed probe (InceptionV3 at 150 px, float32, ``predict_on_batch`` of 16 images, best of 3
after a warm-up) tells how fast the machine runs at that moment (its speed drifts from day to day by
10-20%; the "half-speed state" of earlier notes was tf.data's autotuning thread, BENCHMARKS.md).
Printed: a Markdown table with every run's wall time, probe and stage times from ``metrics.json``
(``timings``), then median, min and max per stage; test accuracy and the pointing game per run.
``--json FILE`` keeps it all.

``--busy N`` starts N busy neighbours (each a process spinning on one core) before the probe and stops
them after the run: the demo as it runs on a machine that something else is using, reproducibly.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "model_training_and_visualization.py"
PROBE = """
import os, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, keras
from visconvnets.models.build import build_model
model = build_model(5, 150, None)
images = np.random.default_rng(0).uniform(0, 255, (16, 150, 150, 3)).astype("float32")
model.predict_on_batch(images)
times = []
for _ in range(3):
    start = time.perf_counter(); model.predict_on_batch(images); times.append(time.perf_counter() - start)
print(16 / min(times))
"""
BUSY = "while True:\n    pass"  # one core's worth of CPU for as long as it runs
STAGES_FIRST = ("data", "model", "training", "evaluation", "pointing game", "map scores")


def probe() -> float:
    """Images/s of the fixed float32 prediction probe in a fresh process (higher: faster state)."""
    found = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(found.stdout.strip().splitlines()[-1])


def one_run(output: Path, seed: int, extra: list[str]) -> dict:
    """Run the demo once; its wall time, exit status, timings, accuracy and pointing game."""
    command = [sys.executable, str(SCRIPT), "--demo", "--output", str(output), "--seed", str(seed), "--verbose", "0"]
    start = time.perf_counter()
    finished = subprocess.run([*command, *extra], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(f"the demo failed (exit {finished.returncode}):\n{finished.stderr[-3000:]}")
    metrics = json.loads((output / "metrics.json").read_text())
    pointing = metrics.get("pointing_game", {})
    return {
        "seed": seed,
        "wall": round(wall, 1),
        "timings": {key: value for key, value in metrics["timings"].items() if isinstance(value, (int, float))},
        "epochs": metrics["timings"].get("epochs", []),
        "accuracy": metrics["test"]["accuracy"],
        "pointing": pointing.get("trained"),
        "precision": json.loads((output / "config.json").read_text())["config"].get("precision"),
    }


def table(runs: list[dict]) -> str:
    """Markdown: a column per run, then median, min, max; a row per stage."""
    stages = [stage for stage in STAGES_FIRST if any(stage in run["timings"] for run in runs)]
    stages += sorted({stage for run in runs for stage in run["timings"]} - set(stages) - {"total"})
    rows = [("whole process (s)", [run["wall"] for run in runs]), ("probe (images/s)", [run["probe"] for run in runs])]
    rows += [(f"{stage} (s)", [run["timings"].get(stage, 0.0) for run in runs]) for stage in [*stages, "total"]]
    header = "| | " + " | ".join(f"run {index + 1} (seed {run['seed']})" for index, run in enumerate(runs))
    lines = [header + " | median | min | max |", "|---" * (len(runs) + 4) + "|"]
    for name, values in rows:
        cells = " | ".join(f"{value:.1f}" for value in values)
        lines.append(f"| {name} | {cells} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |")
    for name, key in (("test accuracy", "accuracy"), ("pointing game", "pointing")):
        values = [run[key] for run in runs]
        cells = " | ".join("-" if value is None else f"{value:.3f}" for value in values)
        lines.append(f"| {name} | {cells} | | | |")
    return "\n".join(lines)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="demo runs (default: 3)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="seeds, used in turn (default: 42)")
    parser.add_argument("--output", type=Path, default=Path("/tmp/bench_demo"), help="runs go to OUTPUT/run_N")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    parser.add_argument("--busy", type=int, default=0, help="busy neighbour processes during each run (default: 0)")
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    runs = []
    for index in range(args.runs):
        output = args.output / f"run_{index + 1}"
        subprocess.run(["rm", "-rf", str(output)], check=True)  # a fresh demo each time (data generated too)
        neighbours = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
        try:
            speed = probe()
            run = one_run(output, args.seeds[index % len(args.seeds)], extra)
        finally:
            for neighbour in neighbours:
                neighbour.kill()
                neighbour.wait()
        run["probe"] = round(speed, 1)
        runs.append(run)
        print(f"run {index + 1}: {run['wall']:.1f} s, probe {speed:.1f} images/s, accuracy {run['accuracy']:.3f}")
    flags = " ".join(extra) or "none"
    busy = f"; {args.busy} busy neighbour process(es)" if args.busy else ""
    print(f"\nmachine: {os.cpu_count()} cores{busy}; precision {runs[0]['precision']}; flags after --: {flags}")
    print(table(runs))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))


if __name__ == "__main__":
    main()
