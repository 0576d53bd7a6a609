"""The plan: which split every checked file goes to (stratified, seeded, duplicates together). Pure.

Columnar: a plan of 100,000 files is a few arrays beside the checks (``planned.SplitPlan``)."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .checks import FileCheck
from .columns import HAS_PIXEL_HASH, NEEDS_CONVERSION, CheckTable, distinct_counts
from .near_duplicates import group_keys
from .planned import EXCLUDED, MODES, SPLIT_NAMES, SplitPlan, name_parts

__all__ = ["plan_split", "split_counts", "validate_fractions"]


def split_counts(total: int, validation_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """How many of ``total`` items go to (train, validation, test).

    Rounding rule: validation and test get ``floor(total * fraction + 0.5)`` (round half up), then at
    least 1 each when ``total >= 3`` and the fraction is above 0; train gets the rest and at least 1
    (taken back from the larger of validation and test). Below 3 items everything goes to train.

    Examples (defaults 0.15, 0.2): 3 -> (1, 1, 1); 10 -> (6, 2, 2); 100 -> (65, 15, 20).
    """
    if total < 3:
        return total, 0, 0
    validation = math.floor(total * validation_fraction + 0.5)
    test = math.floor(total * test_fraction + 0.5)
    if validation_fraction > 0:
        validation = max(1, validation)
    if test_fraction > 0:
        test = max(1, test)
    while total - validation - test < 1:
        if validation >= test and validation > 1:
            validation -= 1
        elif test > 1:
            test -= 1
        else:
            validation -= 1
    return total - validation - test, validation, test


def validate_fractions(validation_fraction: float, test_fraction: float) -> None:
    """Raise ValueError unless both fractions are in [0, 1) and leave room for training."""
    for name, value in (("--val", validation_fraction), ("--test", test_fraction)):
        if not (0.0 <= value < 1.0) or math.isnan(value):
            raise ValueError(f"{name} must be a fraction in [0, 1), got {value}")
    if validation_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"--val + --test must be below 1 so that training keeps images, got "
            f"{validation_fraction} + {test_fraction} = {validation_fraction + test_fraction}"
        )


def _clashing_names(checks: CheckTable, rows: np.ndarray, flags: np.ndarray) -> dict[int, str]:
    """{row: name} for the ``rows`` of one class (in writing order) whose ``destination_name`` is taken,
    case-insensitively, by an earlier row: ``stem_1.jpg``, ``stem_2.jpg``... in that order."""
    taken: set[str] = set()
    renamed = {}
    for row in rows.tolist():
        stem, suffix = name_parts(checks.files.paths[row], bool(flags[row] & NEEDS_CONVERSION))
        name, counter = stem + suffix, 1
        while name.lower() in taken:
            name, counter = f"{stem}_{counter}{suffix}", counter + 1
        taken.add(name.lower())
        if counter > 1:
            renamed[row] = name
    return renamed


def _label_conflicts(table: CheckTable, prefixes: np.ndarray, class_ids: np.ndarray, rows: np.ndarray, classes):
    """{row: reason} for the ``rows`` whose bytes are also under another class: candidates by the first
    64 bits of their SHA-256 (``prefixes``), confirmed by the whole digest."""
    if not rows.size:
        return {}
    values, inverse = np.unique(prefixes[rows], return_inverse=True)
    inverse = inverse.reshape(-1)
    spans_classes = distinct_counts(inverse, class_ids[rows], len(values)) > 1
    candidates = rows[spans_classes[inverse]].tolist()  # few: a set per digest is fine here
    digests = {row: table.digest_hex(row) for row in candidates}
    names: dict[str, set[str]] = defaultdict(set)
    for row in candidates:
        names[digests[row]].add(classes[class_ids[row]])
    reasons = {}
    for row in candidates:
        others = names[digests[row]] - {classes[class_ids[row]]}
        if others:
            reasons[row] = f"label conflict: the same image is also under class {', '.join(sorted(others))}"
    return reasons


def _assign_groups(assigned: np.ndarray, counts: tuple[int, int, int]) -> np.ndarray:
    """The split of each of one class's groups, in shuffled order, from ``assigned`` (their splits so
    far, ``EXCLUDED`` when unplaced): groups another class already placed (near-duplicates across classes)
    keep their split and count against its share; the rest fill train, validation, test in order."""
    already = assigned != EXCLUDED
    remaining = np.array(counts) - np.bincount(assigned[already].astype(np.int64), minlength=len(SPLIT_NAMES))
    queue = np.repeat(np.arange(len(SPLIT_NAMES), dtype=np.int8), np.maximum(remaining, 0))
    free = np.flatnonzero(~already)
    placed = np.zeros(len(free), np.int8)  # past the end of the queue: train
    placed[: min(len(free), len(queue))] = queue[: len(free)]
    result = assigned.copy()
    result[free] = placed
    return result


def _check_class_sizes(class_names, class_ids: np.ndarray, group_ids: np.ndarray, allow_small: bool) -> None:
    """Raise unless every class has 3 groups (distinct images) or more, or ``allow_small``."""
    per_class = distinct_counts(class_ids, group_ids, len(class_names))
    small = {name: int(count) for name, count in zip(class_names, per_class) if count < 3}
    if small and not allow_small:
        listed = ", ".join(f"{name!r} ({count})" for name, count in small.items())
        raise ValueError(
            f"classes with fewer than 3 distinct usable images cannot be split: {listed}. "
            "Add images, remove the class folder, or pass --allow-small-classes to put them in train only."
        )


def _place_class(members, member_groups, split_of_group: np.ndarray, random_order: random.Random, fractions):
    """Place one class's groups: shuffle them (ordered by key) with ``random_order``, cut them by
    ``split_counts`` into ``split_of_group`` (updated in place); the class's rows in writing order (by
    shuffled group, then path)."""
    ids = np.unique(member_groups)
    order = list(range(len(ids)))
    random_order.shuffle(order)  # the permutation depends on the count only
    ids = ids[np.array(order, dtype=np.int64)]
    split_of_group[ids] = _assign_groups(split_of_group[ids], split_counts(len(ids), *fractions))
    position = np.zeros(len(split_of_group), np.int32)
    position[ids] = np.arange(len(ids))
    return members[np.lexsort((members, position[member_groups]))]


def plan_split(
    root: Path,
    class_names: Sequence[str],
    checks: Iterable[FileCheck],
    validation_fraction: float = 0.15,
    test_fraction: float = 0.2,
    seed: int = 42,
    mode: str = "copy",
    allow_small_classes: bool = False,
    near_duplicates: int = 0,
) -> SplitPlan:
    """Decide the split of every checked file. Pure: reads and writes nothing.

    Byte-identical files (same SHA-256) form one group and always land in the same split; with
    ``near_duplicates`` > 0 so do files whose difference hashes (``FileCheck.pixel_hash``) are at most
    that many bits apart, transitively, also under different classes. Groups are ordered by key (their
    smallest digest), then shuffled by a generator seeded with ``seed`` and the class name, so the
    result depends only on file contents and the seed, never on listing order or the machine.

    Args:
        checks: ``check_files``'s table, or any ``FileCheck`` records.

    Raises:
        ValueError: bad fractions or mode, or a class with fewer than 3 usable images (unless
            ``allow_small_classes``, which puts such a class in train only).
    """
    fractions = (validation_fraction, test_fraction)
    validate_fractions(*fractions)
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    class_names = list(class_names)
    table = (checks if isinstance(checks, CheckTable) else CheckTable.from_checks(checks)).sorted_by_path()
    class_ids, flags, digests = table.class_ids(class_names), table.flags(), table.digest_prefixes()
    usable = np.ones(len(table), bool)
    usable[list(table.problems)] = False
    reasons = _label_conflicts(table, digests, class_ids, np.flatnonzero(usable), class_names)
    usable[list(reasons)] = False
    rows = np.flatnonzero(usable)
    groups = np.zeros(len(table), np.uint64)
    hashed = (flags[rows] & HAS_PIXEL_HASH) > 0
    kept_digests = digests[rows]
    del digests  # from here on only the kept files' (the peak is in the near-duplicate search below)
    groups[rows] = group_keys(kept_digests, table.pixel_hashes()[rows], hashed, near_duplicates)
    del kept_digests
    group_values, group_ids = np.unique(groups[rows], return_inverse=True)  # ids in key order
    group_ids = group_ids.reshape(-1)
    kept_classes = class_ids[rows]
    _check_class_sizes(class_names, kept_classes, group_ids, allow_small_classes)

    splits = np.full(len(table), EXCLUDED, np.int8)
    split_of_group = np.full(len(group_values), EXCLUDED, np.int8)  # across classes (near-duplicates)
    renamed: dict[int, str] = {}
    for class_index, class_name in enumerate(class_names):
        in_class = kept_classes == class_index
        members, member_groups = rows[in_class], group_ids[in_class]
        random_order = random.Random(f"{seed}:{class_name}")
        writing_order = _place_class(members, member_groups, split_of_group, random_order, fractions)
        splits[members] = split_of_group[member_groups]
        renamed.update(_clashing_names(table, writing_order, flags))
    return SplitPlan(Path(root), class_names, table, splits, class_ids, groups, mode, reasons, renamed, near_duplicates)
