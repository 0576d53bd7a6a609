"""Near-duplicate photos: the difference hash, the banded pair search, the groups, and the split keeping
each group in one part (split.csv's group column, the report, label conflicts across classes)."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from visconvnets.data import split as splitting
from visconvnets.data.split.near_duplicates import connected_groups, difference_hash, near_duplicate_pairs


def photo(seed: int, size=(160, 120)) -> Image.Image:
    """A smooth photo-like picture (blurred blobs): the kind of content dHash is meant for."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))


def encoded(picture: Image.Image, quality: int = 92) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def hamming(first: int, second: int) -> int:
    return bin(first ^ second).count("1")


def test_dhash_sees_copies_and_tells_photos_apart():
    original = photo(1)
    copy = Image.open(io.BytesIO(encoded(original.resize((96, 72), Image.Resampling.LANCZOS), quality=60)))
    brighter = original.point(lambda value: min(255, value + 12))
    assert hamming(difference_hash(original), difference_hash(copy)) <= 4  # resized and re-encoded
    assert hamming(difference_hash(original), difference_hash(brighter)) <= 4
    others = [difference_hash(photo(seed)) for seed in range(2, 12)]
    assert min(hamming(difference_hash(original), other) for other in others) > 8
    assert 0 <= difference_hash(original) < 2**64


@pytest.mark.parametrize("distance", [0, 1, 3, 4, 6])
def test_banded_search_finds_exactly_the_brute_force_pairs(distance):
    rng = np.random.default_rng(distance)
    hashes = rng.integers(0, 2**64 - 1, size=400, dtype=np.uint64, endpoint=True)
    for target, source in ((10, 3), (11, 10), (50, 49), (300, 7)):  # planted near-copies, chained
        bits = rng.choice(64, size=rng.integers(0, 7), replace=False)
        hashes[target] = hashes[source] ^ np.uint64(sum(1 << int(bit) for bit in bits))
    hashes[200:203] = 0  # a run of identical hashes (flat images)
    brute = [
        (i, j)
        for i, j in itertools.combinations(range(len(hashes)), 2)
        if hamming(int(hashes[i]), int(hashes[j])) <= distance
    ]
    found = near_duplicate_pairs(hashes, distance)
    assert found.tolist() == [list(pair) for pair in brute]
    assert (200, 201) in map(tuple, found.tolist()) and (201, 202) in map(tuple, found.tolist())
    with pytest.raises(ValueError, match="0-31"):
        near_duplicate_pairs(hashes, 40)


def test_connected_groups_follow_chains():
    labels = connected_groups(8, np.array([[6, 7], [1, 2], [0, 1], [5, 6]]))
    assert labels.tolist() == [0, 0, 0, 3, 4, 5, 5, 5]
    assert connected_groups(3, np.empty((0, 2))).tolist() == [0, 1, 2]


@pytest.fixture
def near_duplicate_tree(tmp_path: Path) -> Path:
    """Three classes of 12 smooth photos; daisy 0 has a resized, re-encoded copy in daisy and a chain
    (copy of the copy, brightened); rose 5 has a copy filed under tulip (a possible label conflict)."""
    root = tmp_path / "flowers"
    for class_index, name in enumerate(("daisy", "rose", "tulip")):
        (root / name).mkdir(parents=True)
        for index in range(12):
            (root / name / f"{name}_{index}.jpg").write_bytes(encoded(photo(100 * class_index + index)))
    small = photo(0).resize((120, 90), Image.Resampling.LANCZOS)
    (root / "daisy" / "daisy_0_small.jpg").write_bytes(encoded(small, quality=70))
    (root / "daisy" / "daisy_0_small_bright.jpg").write_bytes(encoded(small.point(lambda v: min(255, v + 10))))
    (root / "tulip" / "rose_5_again.jpg").write_bytes(encoded(photo(105), quality=75))
    return root


def read_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["source"]: row for row in csv.DictReader(handle)}


def test_split_keeps_near_duplicates_together(near_duplicate_tree: Path, tmp_path: Path):
    plan = splitting.split_dataset(near_duplicate_tree, tmp_path / "split", workers=1, seed=3)
    rows = read_rows(tmp_path / "split" / "split.csv")
    family = ["daisy/daisy_0.jpg", "daisy/daisy_0_small.jpg", "daisy/daisy_0_small_bright.jpg"]
    assert len({rows[name]["split"] for name in family}) == 1 and len({rows[name]["group"] for name in family}) == 1
    assert rows["tulip/rose_5_again.jpg"]["split"] == rows["rose/rose_5.jpg"]["split"]  # across classes too
    assert rows["tulip/rose_5_again.jpg"]["group"] == rows["rose/rose_5.jpg"]["group"]
    others = [row["group"] for source, row in rows.items() if source not in family and "rose_5" not in source]
    assert len(set(others)) == len(others)  # every other photo is its own group
    counts = plan.counts()
    assert sum(counts["daisy"].values()) == 14 and sum(counts["tulip"].values()) == 13  # nothing dropped
    for name in ("daisy", "rose", "tulip"):  # still stratified: per class, groups cut by the rounding rule
        groups = {
            split: {row["group"] for row in rows.values() if row["class"] == name and row["split"] == split}
            for split in splitting.SPLIT_NAMES
        }
        total = sum(len(members) for members in groups.values())  # 12; tulip 13 (rose 5's copy is a group)
        assert total == (13 if name == "tulip" else 12)
        expected = splitting.split_counts(total, 0.15, 0.2)
        assert tuple(len(groups[split]) for split in splitting.SPLIT_NAMES) == expected, (name, groups)
    report = splitting.format_report(plan)
    assert "near-duplicate groups (dHash distance <= 4): 2, holding 5 files" in report
    assert "possible label conflict" in report and "tulip/rose_5_again.jpg" in report and "rose/rose_5.jpg" in report


def test_near_duplicates_off_splits_by_exact_content(near_duplicate_tree: Path, tmp_path: Path):
    splitting.split_dataset(near_duplicate_tree, tmp_path / "split", workers=1, near_duplicates=0)
    rows = read_rows(tmp_path / "split" / "split.csv")
    assert len({row["group"] for row in rows.values()}) == len(rows)  # no two files share content
    assert all(row["group"] == row["sha256"][:16] for row in rows.values())
    with pytest.raises(ValueError, match="--near-duplicates must be 0-31"):
        splitting.split_dataset(near_duplicate_tree, tmp_path / "other", near_duplicates=-1)
