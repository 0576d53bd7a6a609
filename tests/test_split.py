"""The split: exact counts, leak-freedom, determinism, the skip report, safety and atomicity."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from visconvnets.data import split as splitting
from visconvnets.data.split import writing as split_writing

from .conftest import image_bytes, write

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_SAMPLE = PROJECT_ROOT.parent / "shared" / "flowers-sample"


def tree_digest(root: Path) -> dict[str, str]:
    """{relative path: sha256} of every file under root, the 'before/after' fingerprint."""
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def messy_tree(tmp_path: Path) -> Path:
    """Kaggle-like tree with every kind of trouble the split must handle.

    Usable distinct images: daisy 10 (+1 duplicate of itself), rose 7, tulip 4 (+1 conflict copy).
    """
    root = tmp_path / "flowers" / "flowers"  # the Kaggle zip's doubled root
    for index in range(10):
        write(root / "daisy" / f"daisy {index}.jpg", image_bytes(index))
    write(root / "daisy" / "daisy copy.JPG", image_bytes(0))  # duplicate within a class, upper-case extension
    write(root / "daisy" / "ünïcödé 雏菊.jpeg", image_bytes(500))
    write(root / "daisy" / ".hidden.jpg", image_bytes(501))
    write(root / "rose" / "gray.png", image_bytes(100, "PNG", "L"))
    write(root / "rose" / "rgba.png", image_bytes(101, "PNG", "RGBA"))
    write(root / "rose" / "cmyk.jpg", image_bytes(102, "JPEG", "CMYK"))
    write(root / "rose" / "anim.gif", image_bytes(103, "GIF", "P"))
    write(root / "rose" / "bitmap.bmp", image_bytes(104, "BMP"))
    write(root / "rose" / "png named.jpg", image_bytes(105, "PNG"))
    write(root / "rose" / "scan.tiff", image_bytes(106, "TIFF"))  # TF cannot read: converted
    write(root / "rose" / "flickr.py", b"print('not a flower')\n")
    write(root / "rose" / "empty.jpg", b"")
    write(root / "rose" / "truncated.jpg", image_bytes(107, size=(64, 64))[:400])
    write(root / "rose" / "garbage.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    for index in range(4):
        write(root / "tulip" / f"tulip_{index}.jpg", image_bytes(200 + index))
    write(root / "tulip" / "looks like daisy.jpg", image_bytes(3))  # label conflict with daisy 3
    write(root / "__pycache__" / "junk.jpg", image_bytes(900))
    write(root / ".ipynb_checkpoints" / "junk.jpg", image_bytes(901))
    return tmp_path / "flowers"


def run_split(source: Path, destination: Path, **options) -> splitting.SplitPlan:
    options.setdefault("workers", 1)
    return splitting.split_dataset(source, destination, **options)


def test_exact_counts_and_report(messy_tree: Path, tmp_path: Path):
    destination = tmp_path / "split"
    plan = run_split(messy_tree, destination)
    assert plan.classes == ["daisy", "rose", "tulip"]
    counts = plan.counts()
    # daisy: 10 distinct groups (11 files incl. unicode, minus the conflicting content, plus its duplicate)
    # distinct daisy contents: seeds 0-9 and 500 = 11; seed 3 conflicts with tulip -> 10 groups, 11 files.
    assert sum(counts["daisy"].values()) == 11
    assert sum(counts["rose"].values()) == 7
    assert sum(counts["tulip"].values()) == 4
    assert counts["tulip"] == {"train": 2, "validation": 1, "test": 1}
    assert counts["rose"] == {"train": 5, "validation": 1, "test": 1}
    reasons = {item.source: item.reason for item in plan.skipped}
    assert set(reasons) == {
        "rose/flickr.py",
        "rose/empty.jpg",
        "rose/truncated.jpg",
        "rose/garbage.png",
        "daisy/daisy 3.jpg",
        "tulip/looks like daisy.jpg",
    }
    assert reasons["rose/flickr.py"].startswith("not an image file: extension .py")
    assert reasons["rose/empty.jpg"].startswith("empty file")
    assert "truncated" in reasons["rose/truncated.jpg"]
    assert reasons["tulip/looks like daisy.jpg"] == "label conflict: the same image is also under class daisy"
    report = splitting.format_report(plan)
    assert "Skipped 6 file(s)" in report and "rose/flickr.py: not an image file" in report
    assert "1 file(s) TensorFlow cannot read were converted" in report


def test_duplicates_share_a_split_and_splits_are_disjoint(messy_tree: Path, tmp_path: Path):
    destination = tmp_path / "split"
    run_split(messy_tree, destination)
    rows = splitting.read_split_csv(destination / "split.csv")
    split_of = {row["source"]: row["split"] for row in rows}
    assert split_of["daisy/daisy 0.jpg"] == split_of["daisy/daisy copy.JPG"]
    digests_by_split: dict[str, set[str]] = {name: set() for name in splitting.SPLIT_NAMES}
    for row in rows:
        if row["split"] in digests_by_split:
            digests_by_split[row["split"]].add(row["sha256"])
    assert not digests_by_split["train"] & digests_by_split["test"]
    assert not digests_by_split["train"] & digests_by_split["validation"]
    assert not digests_by_split["validation"] & digests_by_split["test"]
    # every kept row's file exists where the csv says, and nothing else is in DEST
    kept = {row["destination"] for row in rows if row["split"] != "excluded"}
    on_disk = {path.relative_to(destination).as_posix() for path in destination.rglob("*") if path.is_file()}
    assert on_disk == kept | {"split.csv"}
    assert "test/rose/scan.png" in on_disk or any(name.endswith("/rose/scan.png") for name in on_disk)


def test_every_written_file_decodes_with_tensorflow(messy_tree: Path, tmp_path: Path):
    tf = pytest.importorskip("tensorflow")
    destination = tmp_path / "split"
    plan = run_split(messy_tree, destination)
    files = [destination / item.destination for item in plan.kept]
    assert len(files) == 22
    for path in files:
        image = tf.io.decode_image(path.read_bytes(), channels=3, expand_animations=False)
        assert image.shape[-1] == 3 and image.shape[0] > 0, path


def test_deterministic_across_runs_and_listing_order(messy_tree: Path, tmp_path: Path, monkeypatch):
    first = run_split(messy_tree, tmp_path / "a", dry_run=True)
    again = run_split(messy_tree, tmp_path / "b", dry_run=True)
    assert first.files == again.files
    # the same files checked in reverse order give the same plan
    root, classes = splitting.find_class_folders(messy_tree)
    checks = splitting.check_files(root, splitting.list_class_files(root, classes), workers=1)
    reversed_plan = splitting.plan_split(root, classes, list(reversed(checks)))
    assert reversed_plan.files == first.files
    # renaming files does not move their content to another split (hash-keyed, not name-keyed)
    renamed = tmp_path / "renamed"
    shutil.copytree(messy_tree, renamed)
    tulips = sorted((renamed / "flowers" / "tulip").glob("tulip_*.jpg"))
    for index, path in enumerate(tulips):
        path.rename(path.with_name(f"zz_{9 - index}.jpg"))
    renamed_plan = run_split(renamed, tmp_path / "c", dry_run=True)
    by_digest = {item.sha256: item.split for item in first.kept}
    assert all(by_digest[item.sha256] == item.split for item in renamed_plan.kept)
    other_seed = run_split(messy_tree, tmp_path / "d", dry_run=True, seed=7)
    assert [item.split for item in other_seed.kept] != [item.split for item in first.kept]


def test_parallel_check_matches_serial(messy_tree: Path):
    root, classes = splitting.find_class_folders(messy_tree)
    files = list(splitting.list_class_files(root, classes)) * 3  # > one chunk so two processes get work
    assert splitting.check_files(root, files, workers=2) == splitting.check_files(root, files, workers=1)


@pytest.mark.parametrize(
    "total, expected",
    [(3, (1, 1, 1)), (4, (2, 1, 1)), (10, (6, 2, 2)), (30, (19, 5, 6)), (100, (65, 15, 20)), (2, (2, 0, 0))],
)
def test_rounding_rule(total, expected):
    assert splitting.split_counts(total, 0.15, 0.2) == expected


def test_rounding_rule_keeps_one_in_train():
    assert splitting.split_counts(3, 0.5, 0.45) == (1, 1, 1)
    assert splitting.split_counts(5, 0.0, 0.2) == (4, 0, 1)


def test_small_class_is_an_error_naming_it(tmp_path: Path):
    for index in range(5):
        write(tmp_path / "src" / "daisy" / f"{index}.jpg", image_bytes(index))
    for index in range(2):
        write(tmp_path / "src" / "rose" / f"{index}.jpg", image_bytes(50 + index))
    with pytest.raises(ValueError, match=r"'rose' \(2\).*--allow-small-classes"):
        run_split(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    plan = run_split(tmp_path / "src", tmp_path / "out", allow_small_classes=True)
    assert plan.counts()["rose"] == {"train": 2, "validation": 0, "test": 0}


def test_refuses_to_overwrite_and_force_replaces(messy_tree: Path, tmp_path: Path):
    destination = tmp_path / "split"
    write(destination / "precious.txt", b"keep me")
    with pytest.raises(ValueError, match="not empty; pass --force"):
        run_split(messy_tree, destination)
    assert (destination / "precious.txt").read_bytes() == b"keep me"
    run_split(messy_tree, destination, force=True)
    assert not (destination / "precious.txt").exists() and (destination / "split.csv").exists()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


def test_dest_inside_source_is_refused(messy_tree: Path):
    with pytest.raises(ValueError, match="inside SOURCE"):
        run_split(messy_tree, messy_tree / "flowers" / "out")


def test_source_untouched_in_every_mode(messy_tree: Path, tmp_path: Path):
    before = tree_digest(messy_tree)
    for mode in splitting.MODES:
        plan = run_split(messy_tree, tmp_path / mode, mode=mode)
        modes_used = {item.action for item in plan.kept}
        assert modes_used == {mode, "convert"}
    assert tree_digest(messy_tree) == before
    linked = tmp_path / "hardlink" / next(item.destination for item in plan.kept if item.action == "symlink")
    assert (tmp_path / "symlink" / linked.relative_to(tmp_path / "hardlink")).is_symlink()


@pytest.mark.parametrize("mode", splitting.MODES)
def test_failure_mid_copy_leaves_no_destination(messy_tree: Path, tmp_path: Path, monkeypatch, mode):
    calls = {"count": 0}
    real_materialise = split_writing._materialise

    def failing_materialise(*args, **kwargs):
        calls["count"] += 1
        if calls["count"] == 5:
            raise OSError("disk full (simulated)")
        return real_materialise(*args, **kwargs)

    monkeypatch.setattr(split_writing, "_materialise", failing_materialise)
    with pytest.raises(OSError, match="simulated"):
        run_split(messy_tree, tmp_path / "split", mode=mode)
    assert calls["count"] == 5
    assert not (tmp_path / "split").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["flowers"]  # no staging folder left either


def test_failure_while_checking_leaves_nothing(messy_tree: Path, tmp_path: Path, monkeypatch):
    def failing_plan(*args, **kwargs):
        raise KeyboardInterrupt()

    monkeypatch.setattr(splitting, "plan_split", failing_plan)
    with pytest.raises(KeyboardInterrupt):
        run_split(messy_tree, tmp_path / "split")
    assert [path.name for path in tmp_path.iterdir()] == ["flowers"]


def test_failure_during_force_keeps_old_destination(messy_tree: Path, tmp_path: Path, monkeypatch):
    destination = tmp_path / "split"
    write(destination / "old.txt", b"old split")
    monkeypatch.setattr(split_writing, "write_split_csv", lambda plan, path: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        run_split(messy_tree, destination, force=True)
    assert (destination / "old.txt").read_bytes() == b"old split"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["flowers", "split"]


def test_decompression_bomb_is_skipped(tmp_path: Path):
    for index in range(3):
        write(tmp_path / "src" / "daisy" / f"{index}.png", image_bytes(index, "PNG"))
    write(tmp_path / "src" / "daisy" / "bomb.png", image_bytes(9, "PNG", size=(200, 200)))
    for index in range(3):
        write(tmp_path / "src" / "rose" / f"{index}.png", image_bytes(20 + index, "PNG"))
    plan = run_split(tmp_path / "src", tmp_path / "out", max_pixels=10_000, dry_run=True)
    assert [item.source for item in plan.skipped] == ["daisy/bomb.png"]
    assert plan.skipped[0].reason.startswith("decompression bomb")


def test_dry_run_writes_nothing(messy_tree: Path, tmp_path: Path):
    plan = run_split(messy_tree, tmp_path / "split", dry_run=True)
    assert len(plan.kept) == 22
    assert not (tmp_path / "split").exists()


def _one_class_tree(tmp_path: Path) -> Path:
    for index in range(4):
        write(tmp_path / "single" / "daisy" / f"{index}.jpg", image_bytes(index))
    return tmp_path / "single"


def _empty_folder(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


# (source maker (tmp_path, messy tree) -> source, options, error, message)
BAD_SPLITS = [
    pytest.param(lambda tmp, tree: tmp / "nowhere", {}, FileNotFoundError, "does not exist", id="missing source"),
    pytest.param(
        lambda tmp, tree: tree,
        {"validation_fraction": 0.5, "test_fraction": 0.5},
        ValueError,
        r"--val \+ --test must be below 1",
        id="fractions sum to 1",
    ),
    pytest.param(
        lambda tmp, tree: tree, {"test_fraction": -0.1}, ValueError, "--test must be a fraction", id="negative test"
    ),
    pytest.param(lambda tmp, tree: _empty_folder(tmp), {}, ValueError, "no class folders", id="no classes"),
    pytest.param(
        lambda tmp, tree: _one_class_tree(tmp),
        {},
        ValueError,
        r"one class folder \('daisy'\): a classifier needs at least 2 classes",
        id="one class",
    ),
]


@pytest.mark.parametrize(("make_source", "options", "error", "message"), BAD_SPLITS)
def test_missing_and_bad_arguments(tmp_path: Path, messy_tree: Path, make_source, options, error, message):
    with pytest.raises(error, match=message):
        run_split(make_source(tmp_path, messy_tree), tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_real_photos_and_csv(tmp_path: Path):
    if not SHARED_SAMPLE.is_dir():
        pytest.skip(f"{SHARED_SAMPLE} not present")
    before = tree_digest(SHARED_SAMPLE)
    plan = run_split(SHARED_SAMPLE, tmp_path / "split", workers=2)
    assert plan.classes == ["daisy", "dandelion", "rose", "sunflower", "tulip"]
    assert all(row == {"train": 19, "validation": 5, "test": 6} for row in plan.counts().values())
    with (tmp_path / "split" / "split.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 150 and set(rows[0]) == set(splitting.CSV_COLUMNS)
    assert tree_digest(SHARED_SAMPLE) == before


def test_script_cli(messy_tree: Path, tmp_path: Path):
    command = [
        sys.executable,
        str(PROJECT_ROOT / "create_train_val_test.py"),
        str(messy_tree),
        str(tmp_path / "out"),
        "--quiet",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Skipped 6 file(s)" in done.stdout and "total" in done.stdout
    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "--force" in again.stderr
    helped = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "create_train_val_test.py"), "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "CONVERTED to RGB PNG" in helped.stdout and "--dry-run" in helped.stdout


def test_split_does_not_import_tensorflow():
    code = "import sys, visconvnets.data.split, create_train_val_test; print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True)
    assert done.stdout.strip() == "False"


def test_killed_run_leaves_no_destination(tmp_path: Path):
    """SIGTERM mid-run: the script cleans up, DEST never appears."""
    source = tmp_path / "src"
    for class_name in ("a", "b"):
        for index in range(400):
            write(
                source / class_name / f"{index}.png",
                image_bytes(index + (0 if class_name == "a" else 10_000), "PNG", size=(64, 64)),
            )
    command = [
        sys.executable,
        str(PROJECT_ROOT / "create_train_val_test.py"),
        str(source),
        str(tmp_path / "out"),
        "--quiet",
        "--workers",
        "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.partial-*")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.001)  # wait until the copy has started, then kill mid-copy
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the split finished before the signal arrived")
    assert process.returncode == 130, stderr
    assert not (tmp_path / "out").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["src"]


def test_signals_are_held_until_the_block_ends():
    """A SIGTERM sent inside ``signals_deferred`` (with NumPy's threads running, which a sigmask on the main
    thread alone would not cover) reaches the handler only after the block."""
    import os
    import signal

    import numpy  # noqa: F401 - its BLAS threads are what a per-thread mask misses

    steps = []

    def handler(number, _frame):
        steps.append(f"handler {number}")
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with pytest.raises(KeyboardInterrupt), splitting.signals_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            steps.append("block finished")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert steps == ["block finished", f"handler {int(signal.SIGTERM)}"]


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl and /proc are Linux's")
def test_kill_9_leaves_no_orphan_workers_and_the_next_run_cleans_up(tmp_path: Path):
    import signal

    source = tmp_path / "src"
    for class_name in ("a", "b"):
        for index in range(600):
            seed = index + (0 if class_name == "a" else 10_000)
            write(source / class_name / f"{index}.png", image_bytes(seed, "PNG", size=(64, 64)))
    command = [sys.executable, str(PROJECT_ROOT / "create_train_val_test.py"), str(source), str(tmp_path / "out")]
    process = subprocess.Popen([*command, "--quiet", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while len(workers) < 2 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        workers = _children(process.pid)  # the checking workers are running
    if process.poll() is not None:
        pytest.skip("the split finished before its workers could be seen")
    process.send_signal(signal.SIGKILL)  # no handler runs: nothing in the program can clean up
    process.wait()
    time.sleep(0.5)
    partials = list(tmp_path.glob(".out.partial-*"))
    assert len(partials) == 1  # left behind by the killed run

    def alive(pid: int) -> bool:
        try:
            state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "workers outlived their parent"
    done = subprocess.run([*command, "--quiet"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert f"removed {partials[0]}" in done.stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "src"]
    assert (tmp_path / "out" / "split.csv").is_file()
