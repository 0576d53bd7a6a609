"""A plan's rows: ``PlannedFile`` (one row of ``split.csv``) and ``SplitPlan``, which keeps them as columns
beside the checks and builds a row only when it is read (``plan.files``, ``plan.kept``, ``plan.skipped``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath

import numpy as np

from .columns import NEEDS_CONVERSION, CheckTable, RowSequence

SPLIT_NAMES = ("train", "validation", "test")

MODES = ("copy", "hardlink", "symlink")


@dataclasses.dataclass(frozen=True, slots=True)
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


EXCLUDED = -1  # the split column's value for a file that is not used


class PlannedRows(RowSequence):
    """Some rows of a plan (all, kept or skipped), each read as a ``PlannedFile`` when asked for."""

    def __init__(self, plan: SplitPlan, rows: np.ndarray | None = None):
        self.plan, self.rows = plan, rows

    def __len__(self) -> int:
        return len(self.plan.checks) if self.rows is None else len(self.rows)

    def _row(self, index: int) -> PlannedFile:
        return self.plan.row(index if self.rows is None else int(self.rows[index]))


@dataclasses.dataclass(eq=False)
class SplitPlan:
    """The whole plan: every file's fate, stored as columns beside the checks (rows in path order).

    Attributes:
        source_root: The folder that holds the classes.
        classes: Class names, sorted.
        checks: The checks of every file, in path order.
        splits: (n,) int8 index into ``SPLIT_NAMES`` of each row, ``EXCLUDED`` for unused files.
        class_ids: (n,) int32 index into ``classes`` of each row.
        groups: (n,) uint64 group key of each kept row (``near_duplicates.group_keys``).
        mode: How kept files are transferred (``MODES``; TF-unreadable ones are converted instead).
        reasons: Why a readable file is excluded (a label conflict), by row; unusable files' are in the checks.
        renamed: The file names in DEST that are not the default ``destination_name`` (name clashes), by row.
        near_duplicates: The dHash distance used to group near-duplicates (0: identical bytes only).
    """

    source_root: Path
    classes: list[str]
    checks: CheckTable
    splits: np.ndarray
    class_ids: np.ndarray
    groups: np.ndarray
    mode: str = "copy"
    reasons: dict[int, str] = dataclasses.field(default_factory=dict)
    renamed: dict[int, str] = dataclasses.field(default_factory=dict)
    near_duplicates: int = 0

    @property
    def files(self) -> PlannedRows:
        return PlannedRows(self)

    @property
    def kept(self) -> PlannedRows:
        return PlannedRows(self, np.flatnonzero(self.splits != EXCLUDED))

    @property
    def skipped(self) -> PlannedRows:
        return PlannedRows(self, np.flatnonzero(self.splits == EXCLUDED))

    def converted(self) -> np.ndarray:
        """(n,) bool: the kept files TensorFlow cannot read, written as PNG (action "convert")."""
        return (self.splits != EXCLUDED) & ((self.checks.flags() & NEEDS_CONVERSION) > 0)

    def row(self, index: int) -> PlannedFile:
        """Row ``index`` (in path order) as a ``PlannedFile``."""
        check = self.checks[index]
        split = int(self.splits[index])
        if split == EXCLUDED:
            reason = check.problem or self.reasons[index]
            return PlannedFile(check.relative_path, check.class_name, "excluded", check.sha256, "skip", "", reason)
        name = self.renamed.get(index) or destination_name(check.relative_path, check.needs_conversion)
        destination = f"{SPLIT_NAMES[split]}/{check.class_name}/{name}"
        action = "convert" if check.needs_conversion else self.mode
        group = f"{int(self.groups[index]):016x}"
        source, class_name = check.relative_path, check.class_name
        return PlannedFile(source, class_name, SPLIT_NAMES[split], check.sha256, action, destination, "", group)

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class and split: ``{class: {"train": n, "validation": n, "test": n}}``."""
        kept = self.splits != EXCLUDED
        table = np.zeros((len(self.classes), len(SPLIT_NAMES)), np.int64)
        np.add.at(table, (self.class_ids[kept], self.splits[kept].astype(np.int64)), 1)
        return {name: dict(zip(SPLIT_NAMES, map(int, row))) for name, row in zip(self.classes, table)}


def name_parts(relative_path: str, convert: bool) -> tuple[str, str]:
    """(stem, suffix) of ``destination_name``."""
    path = PurePosixPath(relative_path)
    parts = path.parts[1:]  # drop the class folder; nested folders are flattened with "__"
    stem = "__".join(parts[:-1] + (path.stem,)) if len(parts) > 1 else path.stem
    return stem, ".png" if convert else path.suffix


def destination_name(relative_path: str, convert: bool) -> str:
    """A file's name in its class folder of DEST unless it clashes: the source name (nested folders
    flattened with "__"), ``.png`` when converted."""
    return "".join(name_parts(relative_path, convert))
