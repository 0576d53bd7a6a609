"""The plan: which split every checked file goes to (stratified, seeded, duplicates together). Pure."""

from __future__ import annotations

import dataclasses
import math
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from .checks import FileCheck
from .near_duplicates import group_keys

SPLIT_NAMES = ("train", "validation", "test")

MODES = ("copy", "hardlink", "symlink")


@dataclasses.dataclass(frozen=True, slots=True)  # slots: one record per file, 100k files
class PlannedFile:
    """One row of ``split.csv``: where a source file goes, or why it does not."""

    source: str
    class_name: str
    split: str  # one of SPLIT_NAMES, or "excluded"
    sha256: str
    action: str  # copy | hardlink | symlink | convert | skip
    destination: str = ""
    reason: str = ""
    group: str = ""  # files of one group (same bytes or near-duplicates) share a split; "" when excluded


@dataclasses.dataclass
class SplitPlan:
    """The whole plan: every file's fate plus the per-class counts."""

    source_root: Path
    classes: list[str]
    files: list[PlannedFile]
    near_duplicates: int = 0  # the dHash distance used to group near-duplicates (0: identical bytes only)

    @property
    def kept(self) -> list[PlannedFile]:
        return [planned for planned in self.files if planned.split in SPLIT_NAMES]

    @property
    def skipped(self) -> list[PlannedFile]:
        return [planned for planned in self.files if planned.split not in SPLIT_NAMES]

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class and split: ``{class: {"train": n, "validation": n, "test": n}}``."""
        table = {name: dict.fromkeys(SPLIT_NAMES, 0) for name in self.classes}
        for planned in self.kept:
            table[planned.class_name][planned.split] += 1
        return table


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


def _destination_name(relative_path: str, convert: bool, taken: set[str]) -> str:
    """File name in the class folder of DEST: the source name, made unique, ``.png`` when converted."""
    path = Path(relative_path)
    parts = path.parts[1:]  # drop the class folder; nested folders are flattened with "__"
    stem = "__".join(parts[:-1] + (path.stem,)) if len(parts) > 1 else path.stem
    suffix = ".png" if convert else path.suffix
    name, counter = stem + suffix, 1
    while name.lower() in taken:
        name, counter = f"{stem}_{counter}{suffix}", counter + 1
    taken.add(name.lower())
    return name


def _group_by_content(checks: Iterable[FileCheck], class_names: Sequence[str], near_duplicates: int):
    """(excluded files, {class: {group: [checks]}}): unusable files and label conflicts (the same bytes
    under two classes) excluded, the rest grouped by ``group_keys`` (same bytes, near-duplicates)."""
    checks = sorted(checks, key=lambda check: check.relative_path)
    excluded: list[PlannedFile] = []
    usable = [check for check in checks if not check.problem]
    for check in checks:
        if check.problem:
            excluded.append(
                PlannedFile(check.relative_path, check.class_name, "excluded", check.sha256, "skip", "", check.problem)
            )
    first_class: dict[str, str] = {}  # digest -> the first class it was seen under (no set per file: 100k files)
    classes_by_digest: dict[str, set[str]] = defaultdict(set)  # only digests seen under two classes or more
    for check in usable:
        first = first_class.setdefault(check.sha256, check.class_name)
        if first != check.class_name:
            classes_by_digest[check.sha256].update((first, check.class_name))
    del first_class
    kept = []
    for check in usable:
        conflicting = classes_by_digest.get(check.sha256)  # present only for two classes or more
        if conflicting:
            others = ", ".join(sorted(conflicting - {check.class_name}))
            reason = f"label conflict: the same image is also under class {others}"
            excluded.append(
                PlannedFile(check.relative_path, check.class_name, "excluded", check.sha256, "skip", "", reason)
            )
        else:
            kept.append(check)
    keys = group_keys([check.sha256 for check in kept], [check.pixel_hash for check in kept], near_duplicates)
    groups: dict[str, dict[str, list[FileCheck]]] = {name: defaultdict(list) for name in class_names}
    for check, key in zip(kept, keys):
        groups[check.class_name][key].append(check)
    return excluded, groups


def _assign_groups(keys: list[str], counts: tuple[int, int, int], assigned: dict[str, str]) -> dict[str, str]:
    """The split of each of one class's (shuffled) group ``keys``: groups another class already placed
    (near-duplicates across classes) keep their split and count against its share; the rest fill
    train, validation, test in order."""
    remaining = dict(zip(SPLIT_NAMES, counts))
    for key in keys:
        if key in assigned:
            remaining[assigned[key]] -= 1
    queue = [name for name in SPLIT_NAMES for _ in range(max(0, remaining[name]))]
    free = [key for key in keys if key not in assigned]
    placed = {key: queue[position] if position < len(queue) else "train" for position, key in enumerate(free)}
    return {key: assigned.get(key, placed.get(key)) for key in keys}


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

    Raises:
        ValueError: bad fractions or mode, or a class with fewer than 3 usable images (unless
            ``allow_small_classes``, which puts such a class in train only).
    """
    validate_fractions(validation_fraction, test_fraction)
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    planned, groups = _group_by_content(checks, class_names, near_duplicates)
    small = {name: len(groups[name]) for name in class_names if len(groups[name]) < 3}
    if small and not allow_small_classes:
        listed = ", ".join(f"{name!r} ({count})" for name, count in small.items())
        raise ValueError(
            f"classes with fewer than 3 distinct usable images cannot be split: {listed}. "
            "Add images, remove the class folder, or pass --allow-small-classes to put them in train only."
        )

    assigned: dict[str, str] = {}  # group -> split, across classes (a near-duplicate pair under two classes)
    for class_name in class_names:
        keys = sorted(groups[class_name])
        random.Random(f"{seed}:{class_name}").shuffle(keys)
        splits = _assign_groups(keys, split_counts(len(keys), validation_fraction, test_fraction), assigned)
        assigned.update(splits)
        taken: set[str] = set()
        for key in keys:
            split = splits[key]
            for check in sorted(groups[class_name][key], key=lambda item: item.relative_path):
                action = "convert" if check.needs_conversion else mode
                name = _destination_name(check.relative_path, check.needs_conversion, taken)
                destination = f"{split}/{class_name}/{name}"
                planned.append(
                    PlannedFile(check.relative_path, class_name, split, check.sha256, action, destination, "", key)
                )
    planned.sort(key=lambda item: item.source)
    return SplitPlan(Path(root), list(class_names), planned, near_duplicates)
