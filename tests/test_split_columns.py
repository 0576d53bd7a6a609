"""The split at scale: listing order without collecting the tree, columns that read as records, a bounded
window of work handed to the workers, files told apart by digest prefixes, names that are not UTF-8."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from visconvnets.data import split as splitting
from visconvnets.data.split.columns import CheckTable, TextColumn
from visconvnets.data.workers import ordered_results

from .conftest import image_bytes, write


def walked_and_sorted(root: Path, class_names) -> list[tuple[str, str]]:
    """The listing as ``os.walk`` then ``sorted`` give it (the split's order before it was streamed)."""
    found = []
    for class_name in class_names:
        for directory, subfolders, file_names in os.walk(root / class_name):
            subfolders[:] = [
                name for name in subfolders if not name.startswith(".") and name not in splitting.IGNORED_FOLDERS
            ]
            found += [
                ((Path(directory) / name).relative_to(root).as_posix(), class_name)
                for name in file_names
                if not name.startswith(".")
            ]
    return sorted(found)


def test_listing_streams_folders_in_the_order_sorted_puts_whole_paths(tmp_path: Path):
    # Names where a folder's order among files differs from its bare name's: "sub" vs "sub.jpg" vs
    # "sub-x" vs "sub0.jpg" ('-' < '.' < '/' < '0'), and class "b-x" whose paths sort before "b/"'s.
    for class_name in ("b", "b-x", "a"):
        for relative in ("sub.jpg", "sub/1.jpg", "sub-x/2.jpg", "sub0.jpg", "sub/deep/3.jpg", "Z.jpg", "é.jpg"):
            write(tmp_path / class_name / relative, b"x")
        write(tmp_path / class_name / ".hidden.jpg", b"x")
        write(tmp_path / class_name / "__pycache__" / "4.jpg", b"x")
        write(tmp_path / class_name / ".cache" / "5.jpg", b"x")
    listing = splitting.list_class_files(tmp_path, ["a", "b", "b-x"])
    expected = walked_and_sorted(tmp_path, ["a", "b", "b-x"])
    assert list(listing) == expected
    assert len(listing) == 21 and listing[0] == ("a/Z.jpg", "a") and listing[-1] == ("b/é.jpg", "b")
    assert [path for path, _ in listing][7:9] == ["b-x/Z.jpg", "b-x/sub-x/2.jpg"]  # b-x/ before b/


def test_text_column_round_trips_any_file_name_and_compares_as_a_list():
    names = ["daisy/a.jpg", "rose/ünïcödé 雏菊.png", os.fsdecode(b"tulip/caf\xe9.jpg"), ""]
    column = TextColumn(names)
    assert list(column) == names and column[-1] == "" and column[1:3] == names[1:3]
    assert column == names and column != names[:3] and column != names[::-1]
    assert not column.is_sorted() and TextColumn(sorted(names)).is_sorted()
    with pytest.raises(IndexError):
        column[4]


def test_check_table_reads_back_every_field_of_the_records_it_holds(tmp_path: Path):
    write(tmp_path / "daisy" / "a.jpg", image_bytes(1))
    write(tmp_path / "daisy" / "b.tiff", image_bytes(2, "TIFF"))
    write(tmp_path / "rose" / "c.jpg", b"")
    write(tmp_path / "rose" / "d.txt", b"text")
    records = [
        splitting.check_file(tmp_path, relative, class_name, hash_pixels=True)
        for relative, class_name in splitting.list_class_files(tmp_path, ["daisy", "rose"])
    ]
    table = CheckTable.from_checks(records)
    assert list(table) == records  # digests, problems, conversion, sizes, hashes: all kept
    assert records[0].pixel_hash is not None and records[1].needs_conversion and records[1].size == (24, 20)
    assert records[2].sha256 and records[2].problem.startswith("empty") and records[3].sha256 == ""
    assert table.digest_prefixes()[0] == int(records[0].sha256[:16], 16) and table.digest_prefixes()[3] == 0


def test_workers_are_handed_a_bounded_window_of_jobs_in_order():
    handed_out = []

    def jobs():
        for number in range(40):
            handed_out.append(number)
            yield number

    release = threading.Event()

    def work(number: int) -> int:
        release.wait(5)
        return number * number

    with ThreadPoolExecutor(2) as pool:
        results = ordered_results(pool, work, jobs(), window=4)
        threading.Timer(0.3, release.set).start()
        first = next(results)
        taken_at_first = len(handed_out)
        rest = list(results)
    assert first == 0 and rest == [number * number for number in range(1, 40)]
    assert taken_at_first <= 5  # 4 in the window, one more once the first was handed back


def test_same_digest_prefix_is_one_group_but_a_label_conflict_needs_the_whole_digest():
    prefix = "ab" * 8

    def digest(number: int) -> str:
        return f"{number:016x}" + "f" * 48

    records = [splitting.FileCheck(f"daisy/{index}.jpg", "daisy", digest(index)) for index in range(1, 4)]
    records += [splitting.FileCheck(f"rose/{index}.jpg", "rose", digest(index + 10)) for index in range(1, 4)]
    records += [
        splitting.FileCheck("daisy/x.jpg", "daisy", prefix + "0" * 48),
        splitting.FileCheck("rose/y.jpg", "rose", prefix + "1" * 48),  # other bytes, same first 64 bits
        splitting.FileCheck("rose/z.jpg", "rose", digest(3)),  # the very bytes of daisy/3.jpg
    ]
    plan = splitting.plan_split(Path(), ["daisy", "rose"], records)
    by_source = {item.source: item for item in plan.files}
    assert by_source["rose/z.jpg"].split == by_source["daisy/3.jpg"].split == "excluded"
    assert by_source["rose/z.jpg"].reason == "label conflict: the same image is also under class daisy"
    assert by_source["daisy/x.jpg"].split != "excluded" and by_source["rose/y.jpg"].split != "excluded"
    assert by_source["daisy/x.jpg"].group == by_source["rose/y.jpg"].group == prefix
    assert by_source["daisy/x.jpg"].split == by_source["rose/y.jpg"].split
    assert plan.counts() == {
        name: {
            split: sum(1 for item in plan.kept if (item.class_name, item.split) == (name, split))
            for split in splitting.SPLIT_NAMES
        }
        for name in ("daisy", "rose")
    }


def test_a_file_name_that_is_not_utf8_is_skipped_with_the_fix_and_printed(tmp_path: Path):
    source = tmp_path / "source"
    for class_name in ("daisy", "rose"):
        for index in range(4):
            write(source / class_name / f"{index}.png", image_bytes(index + 10 * len(class_name), "PNG"))
    (source / "daisy" / "0.png").rename(source / "daisy" / os.fsdecode(b"caf\xe9.png"))
    plan = splitting.split_dataset(source, tmp_path / "dest", workers=1)
    skipped = plan.skipped
    assert len(skipped) == 1 and skipped[0].source == os.fsdecode(b"daisy/caf\xe9.png")
    assert skipped[0].reason.startswith("file name is not valid UTF-8: rename it")
    assert "daisy/caf\\xe9.png: file name is not valid UTF-8" in splitting.format_report(plan)
    rows = splitting.read_split_csv(tmp_path / "dest" / "split.csv")
    assert [row["source"] for row in rows if row["split"] == "excluded"] == [skipped[0].source]
    assert len(list((tmp_path / "dest").glob("*/*/*.png"))) == 7


def test_writing_hands_the_workers_a_bounded_window(tmp_path: Path, monkeypatch):
    """Copy mode with several processes: every file written, through the bounded window (chunks of 128)."""
    source = tmp_path / "source"
    for offset, class_name in enumerate(("daisy", "rose", "tulip")):
        for index in range(110):
            write(source / class_name / f"{index}.jpg", image_bytes(1000 * offset + index, size=(8, 8)))
    taken = []
    real = splitting.writing.ordered_results

    def counting(pool, function, jobs, window):
        def counted():
            for job in jobs:
                taken.append(len(job[2]))
                yield job

        return real(pool, function, counted(), window)

    monkeypatch.setattr(splitting.writing, "ordered_results", counting)
    plan = splitting.plan_split(
        source,
        ["daisy", "rose", "tulip"],
        splitting.check_files(source, splitting.list_class_files(source, ["daisy", "rose", "tulip"]), workers=1),
    )
    splitting.write_split(plan, tmp_path / "dest", workers=2)
    assert taken == [128, 128, 74]
    assert len(list((tmp_path / "dest").glob("*/*/*.jpg"))) == 330
