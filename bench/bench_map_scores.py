"""The map-scores stage of a finished run, before and after issue 32's verdicts, side by side in one process.

Usage:
    python bench/bench_map_scores.py --run outputs/demo [--repeats 1]

The run's own model, split, boxes and settings (``OUT/config.toml``), scored by ``run.map_scores.score_maps``
(the removal check, every method's maps and scores, the randomisation check) twice per repeat:

* before: 8 test images for every method and baseline, removed pixels blurred (the settings before issue 32;
  the paired comparisons are computed too, at no measurable cost);
* after: the run's settings (today's defaults: 32 images for the run's method and the baselines, 8 for the
  other methods, the images' mean colour as the removal).

Prints, per variant, the seconds of each part (``timings``), the comparisons decided and the run's method's
verdicts against the random map.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VARIANTS = {
    "before (8 images, blur)": {"faithfulness_images": 8, "method_images": 8, "removal": "blur"},
    "after (the run's settings)": {},
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=Path("outputs/demo"), help="a finished run")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)

    from visconvnets.data.folders import scan_split_folder
    from visconvnets.data.selection import choose_image_sets
    from visconvnets.models.saved import load_trained_model
    from visconvnets.run.map_scores import score_maps
    from visconvnets.run.timing import Stopwatch
    from visconvnets.settings import outputs
    from visconvnets.settings.config import config_from_mapping
    from visconvnets.settings.files import read_settings_file

    config = config_from_mapping(read_settings_file(args.run / outputs.SETTINGS_FILE))
    model, _ = load_trained_model(args.run / outputs.MODEL)
    side = int(model.input_shape[1])
    layer = json.loads((args.run / outputs.METRICS).read_text())["visualizations"]["gradcam_layer"]
    split_files = scan_split_folder(config.data)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for repeat in range(args.repeats):
            for label, changes in VARIANTS.items():
                settings = dataclasses.replace(config, **changes)
                chosen = choose_image_sets(
                    split_files,
                    settings.seed,
                    images=None,
                    images_per_class=1,
                    probes_per_class=0,
                    boxes=settings.boxes,
                    scored_images=settings.faithfulness_images,
                ).scored
                clock = Stopwatch()
                found = score_maps(model, chosen, settings, side, layer, Path(folder), clock)["faithfulness"]
                against_random = {
                    comparison["score"]: comparison["verdict"]
                    for comparison in found["comparisons"]
                    if comparison["method"] == settings.cam_method and comparison["baseline"] == "random"
                }
                row = {"variant": label, "repeat": repeat, "seconds": clock.seconds}
                row["stage"] = round(sum(clock.seconds.values()), 1)
                row["decided"] = sum(comparison["verdict"] != "undecided" for comparison in found["comparisons"])
                row["against random"] = against_random
                rows.append(row)
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
