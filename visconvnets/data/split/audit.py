"""The audit trail: ``DEST/split.csv`` (every file's split or the reason it was skipped) and the printed report."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np

from .columns import distinct_counts
from .planned import EXCLUDED, SPLIT_NAMES, SplitPlan

CSV_COLUMNS = ("source", "class", "split", "sha256", "action", "destination", "reason", "group")


def write_split_csv(plan: SplitPlan, path: Path) -> None:
    # surrogateescape: a file name that is not UTF-8 (skipped, listed) is written as its own bytes
    with path.open("w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for item in plan.files:
            writer.writerow(
                (
                    item.source,
                    item.class_name,
                    item.split,
                    item.sha256,
                    item.action,
                    item.destination,
                    item.reason,
                    item.group,
                )
            )


def read_split_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a ``split.csv`` written by ``write_split``, as dictionaries keyed by column name."""
    with Path(path).open(newline="", encoding="utf-8", errors="surrogateescape") as handle:
        return list(csv.DictReader(handle))


def near_duplicate_lines(plan: SplitPlan) -> list[str]:
    """How many groups hold near-duplicates (files of different bytes kept together), and the groups
    that span classes: possible label conflicts for a person to look at."""
    if plan.near_duplicates <= 0:
        return ["\nNear-duplicate search off (--near-duplicates 0): only byte-identical files are grouped."]
    rows = np.flatnonzero(plan.splits != EXCLUDED)
    groups, group_ids = np.unique(plan.groups[rows], return_inverse=True)
    _, digest_ids = np.unique(plan.checks.digest_prefixes()[rows], return_inverse=True)
    group_ids, digest_ids = group_ids.reshape(-1), digest_ids.reshape(-1)
    near = distinct_counts(group_ids, digest_ids, len(groups)) > 1
    lines = [
        f"\nnear-duplicate groups (dHash distance <= {plan.near_duplicates}): {int(near.sum())}, holding "
        f"{int(near[group_ids].sum())} files (each group kept in one split)"
    ]
    mixed = near & (distinct_counts(group_ids, plan.class_ids[rows], len(groups)) > 1)
    if mixed.any():
        count = int(mixed.sum())
        lines.append(f"{count} possible label conflict(s): near-duplicates under different classes (check them):")
        members = rows[mixed[group_ids]]  # in path order; groups listed by their first file
        member_groups = group_ids[mixed[group_ids]]
        for group in dict.fromkeys(member_groups.tolist()):
            items = [plan.row(int(row)) for row in members[member_groups == group]]
            lines.append("  " + ", ".join(f"{item.source} ({item.class_name})" for item in items))
    return lines


def printable(path: str) -> str:
    """A path as it can be printed: bytes that are not UTF-8 shown as ``\\xe9``."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def format_report(plan: SplitPlan) -> str:
    """A table of counts per class and split, then the skipped files with their reasons."""
    counts = plan.counts()
    width = max([len("class"), len("total")] + [len(name) for name in plan.classes])
    header = f"{'class':<{width}}  " + "  ".join(f"{name:>10}" for name in SPLIT_NAMES) + f"  {'total':>7}"
    lines = [header, "-" * len(header)]
    for class_name in plan.classes:
        row = counts[class_name]
        lines.append(
            f"{class_name:<{width}}  "
            + "  ".join(f"{row[name]:>10}" for name in SPLIT_NAMES)
            + f"  {sum(row.values()):>7}"
        )
    totals = {name: sum(counts[class_name][name] for class_name in plan.classes) for name in SPLIT_NAMES}
    lines.append(
        f"{'total':<{width}}  "
        + "  ".join(f"{totals[name]:>10}" for name in SPLIT_NAMES)
        + f"  {sum(totals.values()):>7}"
    )
    lines += near_duplicate_lines(plan)
    converted = int(plan.converted().sum())
    if converted:
        lines.append(f"\n{converted} file(s) TensorFlow cannot read were converted to RGB PNG.")
    skipped = plan.skipped
    if skipped:
        lines.append(f"\nSkipped {len(skipped)} file(s):")
        reasons = Counter(item.reason.split(":")[0] for item in skipped)
        for item in skipped:
            lines.append(f"  {printable(item.source)}: {item.reason}")
        lines.append("  by reason: " + ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items())))
    else:
        lines.append("\nNo files skipped.")
    return "\n".join(lines)
