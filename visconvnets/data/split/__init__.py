"""Split class folders into train/validation/test: stratified, seeded, leak-free, checked image by image.

This package imports no TensorFlow, so the split script starts in well under a second.

The flow, each step a function:

1. ``find_class_folders``: sorted class folders under the source (hidden entries skipped, the Kaggle
   zip's doubled root ``flowers/flowers/daisy`` descended into).
2. ``check_files``: every file read once, hashed (SHA-256) and fully decoded with Pillow, in parallel.
3. ``plan_split``: per class, groups of byte-identical files and of near-duplicates (a difference hash
   of the decoded pixels, ``near_duplicates``) shuffled with a seeded generator and cut by the
   documented rounding rule; the same bytes under two classes is a label conflict (excluded), a
   near-duplicate under two classes a possible one (reported, kept in one split).
4. ``write_split``: everything written into a temporary folder beside DEST, renamed into place only
   when complete, with ``split.csv`` as the audit trail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .audit import CSV_COLUMNS, format_report, read_split_csv, write_split_csv
from .checks import DEFAULT_MAX_PIXELS, FileCheck, check_file, check_files
from .columns import CheckTable, FileList
from .discovery import IGNORED_FOLDERS, IMAGE_EXTENSIONS, find_class_folders, list_class_files
from .near_duplicates import DEFAULT_DISTANCE
from .plan import plan_split, split_counts, validate_fractions
from .planned import MODES, SPLIT_NAMES, PlannedFile, SplitPlan
from .writing import INCOMING, check_destination, make_staging_folder, signals_deferred, write_split

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_DISTANCE",
    "DEFAULT_MAX_PIXELS",
    "IGNORED_FOLDERS",
    "IMAGE_EXTENSIONS",
    "MODES",
    "SPLIT_NAMES",
    "CheckTable",
    "FileList",
    "FileCheck",
    "PlannedFile",
    "SplitPlan",
    "check_destination",
    "check_file",
    "check_files",
    "find_class_folders",
    "format_report",
    "list_class_files",
    "make_staging_folder",
    "plan_split",
    "read_split_csv",
    "signals_deferred",
    "split_counts",
    "split_dataset",
    "validate_fractions",
    "write_split",
    "write_split_csv",
]


def _check_settings(validation_fraction, test_fraction, mode: str, max_pixels: int, near_duplicates: int) -> None:
    validate_fractions(validation_fraction, test_fraction)
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    if not 0 <= near_duplicates < 32:
        raise ValueError(f"--near-duplicates must be 0-31 bits of the 64-bit dHash (0: off), got {near_duplicates}")


def split_dataset(
    source: Path,
    destination: Path,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.2,
    seed: int = 42,
    mode: str = "copy",
    force: bool = False,
    dry_run: bool = False,
    allow_small_classes: bool = False,
    workers: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = False,
    near_duplicates: int = DEFAULT_DISTANCE,
) -> SplitPlan:
    """Check, plan and (unless ``dry_run``) write a split. The one call the script and notebooks use.

    Every check on the arguments and DEST runs before any file is opened.

    Returns:
        The plan; ``plan.counts()`` and ``format_report(plan)`` describe it.
    """
    _check_settings(validation_fraction, test_fraction, mode, max_pixels, near_duplicates)
    root, class_names = find_class_folders(Path(source))
    if len(class_names) < 2:
        raise ValueError(
            f"{str(root)!r} holds one class folder ({class_names[0]!r}): a classifier needs at least 2 classes; "
            "give the folder that holds one sub-folder per class"
        )
    check_destination(root, Path(destination), force)
    files = list_class_files(root, class_names)
    # In copy mode the checking workers stage each usable file's bytes as they go, overlapping the
    # disk writes with decoding; writing the split is then renames only.
    staging = None
    try:
        if not dry_run and mode == "copy":
            with signals_deferred():
                staging = make_staging_folder(Path(destination))
        checks = check_files(
            root,
            files,
            workers=workers,
            max_pixels=max_pixels,
            progress=progress,
            stage_into=staging / INCOMING if staging else None,
            hash_pixels=near_duplicates > 0,
        )
        fractions = (validation_fraction, test_fraction)
        plan = plan_split(root, class_names, checks, *fractions, seed, mode, allow_small_classes, near_duplicates)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    if not dry_run:
        write_split(plan, Path(destination), force=force, workers=workers, progress=progress, staging=staging)
    return plan
