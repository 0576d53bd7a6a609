"""Split class folders into train/ validation/ test/ (stratified, seeded, leak-free, checked).

Example:
    python create_train_val_test.py flowers/ flowers_split/ --val 0.15 --test 0.2 --seed 42
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from visconvnets.data import split as splitting

DESCRIPTION = """\
Split a folder of class folders (SOURCE/daisy/*.jpg, SOURCE/rose/*.jpg, ...) into
DEST/train, DEST/validation and DEST/test, with the same class folders in each.

How it works:
  * Classes are SOURCE's sub-folders, sorted; hidden entries, __pycache__ and
    .ipynb_checkpoints are skipped. A doubled root (the Kaggle zip's flowers/flowers/daisy)
    is descended into.
  * Every file is read, hashed (SHA-256) and fully decoded with Pillow, on all cores.
    Non-images (e.g. flickr.py), empty, truncated, corrupt files and decompression bombs
    are SKIPPED and listed with the reason. Extensions are matched case-insensitively:
    .jpg .jpeg .png .gif .bmp .webp .tif .tiff.
  * Images TensorFlow cannot decode (TIFF, WEBP, 1-bit BMP) are CONVERTED to RGB PNG in
    DEST; SOURCE is never modified.
  * Stratified per class and deterministic: byte-identical files form one group that
    always lands in one split (no leaks); groups are ordered by hash and shuffled with
    --seed, so listing order and machine do not matter. The same image under two classes
    is a label conflict: all its copies are skipped and reported.
  * Near-duplicates (the same photo re-encoded, resized or lightly edited) are found by a
    64-bit difference hash of the decoded pixels, computed in the same decode: photos whose
    hashes differ in at most --near-duplicates bits (default 4) join one group, so they
    cannot leak across splits either; near-duplicates under two classes are reported as
    possible label conflicts and kept in one split. The search is banded, not pairwise.
  * Rounding: validation and test get round-half-up(n * fraction) groups, at least 1 each
    when a class has 3 or more; train gets the rest (at least 1). A class with fewer than
    3 distinct usable images is an error unless --allow-small-classes.
  * DEST is built in a hidden folder beside it and renamed into place only when complete:
    an interrupted run leaves no half-written DEST. DEST/split.csv records every file:
    source, class, split (or "excluded"), sha256, action, destination, reason, group
    (files sharing a group share a split).
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="folder with one sub-folder per class (read only)")
    parser.add_argument("destination", type=Path, help="output folder; must not exist or be empty (see --force)")
    parser.add_argument(
        "--val", type=float, default=0.15, help="fraction of each class for validation (default: 0.15, the blog's)"
    )
    parser.add_argument(
        "--test", type=float, default=0.2, help="fraction of each class for test (default: 0.2, the blog's)"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the shuffle (default: 42)")
    parser.add_argument(
        "--mode",
        choices=splitting.MODES,
        default="copy",
        help="how files reach DEST: copy (default, independent files), hardlink (no extra disk, same "
        "file system only) or symlink (absolute links to SOURCE)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace a non-empty DEST (only once the new split is complete)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan and counts, write nothing")
    parser.add_argument(
        "--allow-small-classes",
        action="store_true",
        help="put classes with fewer than 3 images in train only instead of failing",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="processes for checking and copying (default: all cores)"
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=splitting.DEFAULT_MAX_PIXELS,
        help="images with more pixels are skipped as decompression bombs "
        f"(default: {splitting.DEFAULT_MAX_PIXELS}, Pillow's)",
    )
    parser.add_argument(
        "--near-duplicates",
        type=int,
        default=splitting.DEFAULT_DISTANCE,
        metavar="DISTANCE",
        help="keep photos whose difference hashes differ in at most DISTANCE of 64 bits in one split "
        f"(default: {splitting.DEFAULT_DISTANCE}: re-encoded and resized copies; 0 turns it off)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)  # `kill` cleans up like Ctrl-C: no partial DEST
    try:
        plan = splitting.split_dataset(
            args.source,
            args.destination,
            validation_fraction=args.val,
            test_fraction=args.test,
            seed=args.seed,
            mode=args.mode,
            force=args.force,
            dry_run=args.dry_run,
            allow_small_classes=args.allow_small_classes,
            workers=args.workers,
            max_pixels=args.max_pixels,
            progress=not args.quiet,
            near_duplicates=args.near_duplicates,
        )
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written to DEST", file=sys.stderr)
        return 130
    print(f"classes under {plan.source_root}: {', '.join(plan.classes)}")
    print(splitting.format_report(plan))
    if args.dry_run:
        print(f"\ndry run: nothing written (DEST would be {args.destination})")
    else:
        print(f"\nwrote {len(plan.kept)} images to {args.destination} (audit trail: {args.destination / 'split.csv'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
