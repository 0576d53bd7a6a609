"""The map-scores stage of a finished run: the code before issue 32's verdicts against today's, side by side.

Usage:
    python bench/bench_map_scores.py --run outputs/demo [--repeats 2] [--before 2f3f5fc]

The run's own model, split, boxes and settings (``OUT/config.toml``), scored by ``run.map_scores.score_maps``
(everything the run does to score its maps: the maps of every method, deletion/insertion, ROAD, the pointing
game, the figures, the randomisation check), each variant in a fresh process, the two alternating:

* before: the project at ``--before`` (default 2f3f5fc, the commit before issue 32), extracted with
  ``git archive`` into a temporary folder: every method and baseline on 8 test images (its default), removed
  pixels blurred, no comparisons;
* after: today's code with the run's settings (32 images for the run's method and the baselines, 8 for the
  other methods, the removal check, the paired comparisons).

Before the clock starts, each process runs what the run has run before this stage (the evaluation's
prediction, the traced Grad-CAM pass of the pointing game and its untrained twin), so neither pays for what the
run has already made.
Prints one JSON row per variant and repeat: the stage's seconds (today's also by part, with the passes each part
ran and what they cost at a probe made in the same process after the stage: ``run.costs``), the comparisons decided.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "2f3f5fc"  # issue 31's last commit, the code before issue 32


def _measure(code: Path, run: Path, variant: str) -> dict:
    """One variant's stage, timed in this process with the package at ``code`` (run in a fresh process)."""
    sys.path.insert(0, str(code))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import dataclasses

    from visconvnets.data.folders import scan_split_folder
    from visconvnets.data.images import load_images
    from visconvnets.data.selection import choose_image_sets
    from visconvnets.explain import cams
    from visconvnets.models.forward import probabilities
    from visconvnets.models.saved import load_trained_model
    from visconvnets.run import map_scores
    from visconvnets.scores.sanity import untrained_twin
    from visconvnets.settings import outputs
    from visconvnets.settings.config import RunConfig, config_from_mapping
    from visconvnets.settings.files import read_settings_file

    settings_file = run / outputs.SETTINGS_FILE
    if variant == "before":  # the run's settings less those added since (the older reader refuses them)
        known = {field.name for field in dataclasses.fields(RunConfig)}
        lines = settings_file.read_text().splitlines()
        kept = [line for line in lines if not re.match(r"^(\w+) = ", line) or line.split(" = ")[0] in known]
        settings_file = Path(tempfile.mkdtemp()) / "config.toml"
        settings_file.write_text("\n".join(kept) + "\n")
    config = config_from_mapping(read_settings_file(settings_file))
    if variant == "before":
        config = dataclasses.replace(config, faithfulness_images=8)  # its default, as the run would have had
    model, _ = load_trained_model(run / outputs.MODEL)
    side = int(model.input_shape[1])
    layer = json.loads((run / outputs.METRICS).read_text())["visualizations"]["gradcam_layer"]
    chosen = choose_image_sets(
        scan_split_folder(config.data),
        config.seed,
        images=None,
        images_per_class=1,
        probes_per_class=0,
        boxes=config.boxes,
        scored_images=config.faithfulness_images,
    ).scored
    warm = load_images(chosen.paths, side)
    probabilities(model, warm)  # the evaluation's traced prediction
    cams.trace_passes(model, layer)  # as the run does before the pointing game
    cams.cam_pass(model, warm, None, layer, config.seed, config.pixel_options())  # the pointing game's pass
    untrained_twin(model, config.seed)  # the pointing game's untrained reference (the randomisation reuses it)
    row = {"variant": variant, "code": str(code)}
    with tempfile.TemporaryDirectory() as folder:
        started, cpu = time.perf_counter(), time.process_time()
        if variant == "before":
            found = map_scores.score_maps(model, chosen, config, side, layer, Path(folder))
        else:
            from visconvnets.run.timing import Stopwatch

            clock = Stopwatch()
            found = map_scores.score_maps(model, chosen, config, side, layer, Path(folder), clock)
            row["parts"] = clock.seconds
            from visconvnets.run.costs import probe_pass_costs, stage_costs

            probe = probe_pass_costs(model, side, config.seed)  # after the clock: what the stage's passes cost
            row["probe"] = {kind: round(1000 * probe[kind], 2) for kind in ("forward", "gradient")}  # ms an image
            row["costs"] = stage_costs(clock.seconds, clock.passes, probe)
            row["pass_seconds"] = round(sum(cost["pass_seconds"] for cost in row["costs"].values()), 1)
            row["decided"] = sum(found["verdict"] != "undecided" for found in found["faithfulness"]["comparisons"])
        row["stage"] = round(time.perf_counter() - started, 1)
        row["cpu"] = round(time.process_time() - cpu, 1)
    faithfulness = found["faithfulness"]
    row["images"] = {
        name: method["images"] if "images" in method else faithfulness["count"]
        for name, method in faithfulness["methods"].items()
    }
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("outputs/demo"), help="a finished run")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--before", default=BEFORE, help="the commit whose code is the baseline")
    parser.add_argument("--worker", nargs=2, metavar=("CODE", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print("ROW " + json.dumps(_measure(Path(args.worker[0]), args.run.resolve(), args.worker[1])), flush=True)
        return
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        for repeat in range(args.repeats):
            for variant, code in (("before", before), ("after", ROOT)):
                command = [sys.executable, str(Path(__file__).resolve()), "--run", str(args.run.resolve())]
                done = subprocess.run(
                    [*command, "--worker", str(code), variant], capture_output=True, text=True, cwd=ROOT
                )
                rows = [line[4:] for line in done.stdout.splitlines() if line.startswith("ROW ")]
                if done.returncode or not rows:
                    raise SystemExit(f"{variant} failed:\n{done.stderr[-3000:]}")
                row = {**json.loads(rows[0]), "repeat": repeat}
                row.pop("code")
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
