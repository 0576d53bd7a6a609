"""A finished run's map-score comparisons decided again by this version's rule, from the per-image scores the run
saved (``metrics.json`` -> ``faithfulness.methods[*].per_image``): no model, no images needed.

Usage:
    python bench/redecide.py outputs/demo_seed42 [outputs/demo_seed1 ...] [--method gradcam]

Prints, per run, how many comparisons are decided now (and were decided by the run), how many were tested (in
Holm's family), and the method's comparisons with every baseline: difference, interval, verdict, Holm p.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="finished runs' output folders")
    parser.add_argument("--method", default="gradcam", help="whose comparisons to print (default: gradcam)")
    args = parser.parse_args(argv)

    import numpy as np

    from visconvnets.run.map_scores import compare_with_baselines

    for run in args.runs:
        scores = json.loads((run / "metrics.json").read_text())["faithfulness"]
        per_image = {
            name: {key: np.asarray(values) for key, values in row["per_image"].items()}
            for name, row in scores["methods"].items()
        }
        baselines = [name for name, row in scores["methods"].items() if row["baseline"]]
        seed = tomllib.loads((run / "config.toml").read_text()).get("run", {}).get("seed", 42)  # the bootstrap's
        found = compare_with_baselines(per_image, baselines, seed)
        decided = sum(comparison["verdict"] != "undecided" for comparison in found)
        then = sum(comparison["verdict"] != "undecided" for comparison in scores["comparisons"])
        tested = sum(comparison["tested"] for comparison in found)
        print(f"{run}: {decided} of {len(found)} decided ({then} by the run), {tested} tested")
        for comparison in found:
            if comparison["method"] == args.method:
                low, high = comparison["ci95"]
                print(
                    f"  {comparison['score']:<15} {comparison['baseline']:<7} {comparison['difference']:+.2f} "
                    f"[{low:+.2f}, {high:+.2f}] {comparison['verdict']:<9} Holm p {comparison['p_holm']:.2g}"
                )


if __name__ == "__main__":
    main()
