"""Split class folders into train/validation/test: stratified, seeded, leak-free, checked image by image.

This module imports no TensorFlow, so the split script starts in well under a second.

The flow, each step a function:

1. ``find_class_folders``: sorted class folders under the source (hidden entries skipped, the Kaggle
   zip's doubled root ``flowers/flowers/daisy`` descended into).
2. ``check_files``: every file read once, hashed (SHA-256) and fully decoded with Pillow, in parallel.
3. ``plan_split``: per class, groups of byte-identical files shuffled with a seeded generator and cut
   by the documented rounding rule; content found under two classes is a label conflict.
4. ``write_split``: everything written into a temporary folder beside DEST, renamed into place only
   when complete, with ``split.csv`` as the audit trail.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

SPLIT_NAMES = ("train", "validation", "test")
# Extensions (lower case) that are looked at; anything else is skipped as "not an image file".
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
# Pillow formats that TensorFlow's decode_image reads as they are (checked on TF 2.21). WEBP is read by
# TF >= 2.18 only, and TIFF never, so both are converted to keep DEST readable by any TF 2.x.
TF_READABLE_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP")
# TF's BMP decoder rejects 1-bit and compressed BMPs; these Pillow modes are the ones it reads.
TF_READABLE_BMP_MODES = ("RGB", "RGBA", "L", "P")
# Folder names that never hold a class.
IGNORED_FOLDERS = ("__pycache__", ".ipynb_checkpoints")
# Pillow's own limit (about 89 megapixels); larger images are skipped as decompression bombs.
DEFAULT_MAX_PIXELS = 89_478_485
MODES = ("copy", "hardlink", "symlink")


@dataclasses.dataclass(frozen=True)
class FileCheck:
    """What checking one source file found.

    Attributes:
        relative_path: Path relative to the source root, with forward slashes.
        class_name: Name of the class folder the file is in.
        sha256: Hex digest of the file's bytes ("" when it could not be read).
        problem: Why the file is unusable, or "" when it decoded fully.
        needs_conversion: True when Pillow reads it but TensorFlow would not (written as RGB PNG).
        size: (width, height) in pixels, (0, 0) when unusable.
    """

    relative_path: str
    class_name: str
    sha256: str
    problem: str = ""
    needs_conversion: bool = False
    size: tuple[int, int] = (0, 0)


@dataclasses.dataclass(frozen=True)
class PlannedFile:
    """One row of ``split.csv``: where a source file goes, or why it does not."""

    source: str
    class_name: str
    split: str  # one of SPLIT_NAMES, or "excluded"
    sha256: str
    action: str  # copy | hardlink | symlink | convert | skip
    destination: str = ""
    reason: str = ""


@dataclasses.dataclass
class SplitPlan:
    """The whole plan: every file's fate plus the per-class counts."""

    source_root: Path
    classes: list[str]
    files: list[PlannedFile]

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


def _is_hidden_or_ignored(path: Path) -> bool:
    return path.name.startswith(".") or path.name in IGNORED_FOLDERS


def _has_image_files(folder: Path) -> bool:
    return any(
        entry.is_file() and entry.suffix.lower() in IMAGE_EXTENSIONS for entry in folder.iterdir()
    )


def find_class_folders(source: Path) -> tuple[Path, list[str]]:
    """Find the class folders under ``source``.

    Args:
        source: Folder holding one sub-folder per class. When it holds exactly one folder and no
            images (the Kaggle zip's ``flowers/flowers/daisy``), that folder is used as the root.

    Returns:
        (root, class names): the folder that holds the classes, and their names sorted.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        ValueError: ``source`` is not a folder, or holds no class folders.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"source folder {str(source)!r} does not exist")
    if not source.is_dir():
        raise ValueError(f"source {str(source)!r} is a file; give the folder that holds one folder per class")
    root = source
    while True:
        folders = sorted(entry for entry in root.iterdir() if entry.is_dir() and not _is_hidden_or_ignored(entry))
        if len(folders) == 1 and not _has_image_files(root) and not _has_image_files(folders[0]):
            root = folders[0]  # doubled root: descend one level
            continue
        break
    if not folders:
        raise ValueError(
            f"no class folders in {str(source)!r}: expected one sub-folder per class "
            "(for example daisy/ dandelion/ rose/ sunflower/ tulip/)"
        )
    return root, [folder.name for folder in folders]


def list_class_files(root: Path, class_names: Sequence[str]) -> list[tuple[str, str]]:
    """All files under each class folder (recursively, hidden entries skipped), sorted.

    Returns:
        [(relative path with forward slashes, class name)], sorted by path.
    """
    found = []
    for class_name in class_names:
        for directory, subfolders, file_names in os.walk(root / class_name):
            subfolders[:] = [name for name in subfolders if not _is_hidden_or_ignored(Path(name))]
            for file_name in file_names:
                if file_name.startswith("."):
                    continue
                relative = (Path(directory) / file_name).relative_to(root).as_posix()
                found.append((relative, class_name))
    return sorted(found)


def _decode_problem(data: bytes, max_pixels: int) -> tuple[str, bool, tuple[int, int]]:
    """Fully decode ``data`` with Pillow. Returns (problem or "", needs_conversion, (width, height))."""
    from PIL import Image

    if not data:
        return "empty file (0 bytes)", False, (0, 0)
    previous_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image_format, mode, size = image.format, image.mode, image.size
                image.load()  # decodes every pixel; truncated or corrupt data raises here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return f"decompression bomb: {error}", False, (0, 0)
    except Image.UnidentifiedImageError:
        return "not an image Pillow can identify", False, (0, 0)
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        return f"corrupt or truncated image: {error}", False, (0, 0)
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit
    if size[0] < 1 or size[1] < 1:
        return f"image has no pixels ({size[0]}x{size[1]})", False, (0, 0)
    readable = image_format in TF_READABLE_FORMATS and (
        image_format != "BMP" or mode in TF_READABLE_BMP_MODES
    )
    return "", not readable, size


def staged_name(relative_path: str) -> str:
    """Name under which ``check_file`` stages a copy of a source file (unique per source path)."""
    return hashlib.sha1(relative_path.encode("utf-8")).hexdigest()


def check_file(
    root: Path,
    relative_path: str,
    class_name: str,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    stage_into: Path | None = None,
) -> FileCheck:
    """Read, hash and fully decode one file.

    Args:
        root: The source root.
        relative_path: The file's path relative to ``root``.
        class_name: Its class.
        max_pixels: Images with more pixels are skipped as decompression bombs.
        stage_into: When given, a usable TF-readable image's bytes (already in memory) are written
            there as ``staged_name(relative_path)``, so copy mode never reads a file twice.

    Returns:
        A FileCheck; ``problem`` is "" for a usable image.
    """
    suffix = Path(relative_path).suffix.lower()
    if suffix not in IMAGE_EXTENSIONS:
        shown = suffix or "(no extension)"
        return FileCheck(relative_path, class_name, "", f"not an image file: extension {shown}")
    try:
        data = (root / relative_path).read_bytes()
    except OSError as error:
        return FileCheck(relative_path, class_name, "", f"cannot be read: {error}")
    digest = hashlib.sha256(data).hexdigest()
    problem, needs_conversion, size = _decode_problem(data, max_pixels)
    if stage_into is not None and not problem and not needs_conversion:
        (Path(stage_into) / staged_name(relative_path)).write_bytes(data)
    return FileCheck(relative_path, class_name, digest, problem, needs_conversion, size)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool that is safe to start from any program: forked (fast) while TensorFlow is not
    loaded, spawned once it is (forking a process that runs TensorFlow's threads can deadlock)."""
    import multiprocessing

    method = "spawn" if "tensorflow" in sys.modules else "fork"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def _check_chunk(arguments: tuple[str, list[tuple[str, str]], int, str | None]) -> list[FileCheck]:
    root, items, max_pixels, stage_into = arguments
    stage_path = Path(stage_into) if stage_into else None
    return [check_file(Path(root), relative, class_name, max_pixels, stage_path) for relative, class_name in items]


def check_files(
    root: Path,
    files: Sequence[tuple[str, str]],
    workers: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = False,
    stage_into: Path | None = None,
) -> list[FileCheck]:
    """Check many files, in ``workers`` processes (default: every core), in input order.

    Args:
        root: The source root.
        files: [(relative path, class name)] as from ``list_class_files``.
        workers: Processes to use; 1 checks in this process.
        max_pixels: Decompression-bomb limit in pixels.
        progress: Show a progress bar on stderr.
        stage_into: Folder to stage copies of usable images in (see ``check_file``).
    """
    workers = workers or os.cpu_count() or 1
    chunk_size = 64
    chunks = [list(files[start:start + chunk_size]) for start in range(0, len(files), chunk_size)]
    jobs = [(str(root), chunk, max_pixels, str(stage_into) if stage_into else None) for chunk in chunks]
    bar = _progress_bar(len(files), "checking images", progress)
    results: list[FileCheck] = []
    try:
        if workers == 1 or len(chunks) <= 1:
            for job in jobs:
                results.extend(_check_chunk(job))
                bar.update(len(job[1]))
        else:
            with process_pool(workers) as pool:
                for checked in pool.map(_check_chunk, jobs):
                    results.extend(checked)
                    bar.update(len(checked))
    finally:
        bar.close()
    return results


class _NoProgress:
    def update(self, _count: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, description: str, enabled: bool):
    if not enabled:
        return _NoProgress()
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is in requirements.txt; a bare install still works, silently
        return _NoProgress()
    return tqdm(total=total, desc=description, unit="file", file=sys.stderr, leave=False)


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


def plan_split(
    root: Path,
    class_names: Sequence[str],
    checks: Iterable[FileCheck],
    validation_fraction: float = 0.15,
    test_fraction: float = 0.2,
    seed: int = 42,
    mode: str = "copy",
    allow_small_classes: bool = False,
) -> SplitPlan:
    """Decide the split of every checked file. Pure: reads and writes nothing.

    Byte-identical files (same SHA-256) form one group and always land in the same split. Groups are
    ordered by digest, then shuffled by a generator seeded with ``seed`` and the class name, so the
    result depends only on file contents and the seed, never on listing order or the machine.

    Raises:
        ValueError: bad fractions or mode, or a class with fewer than 3 usable images (unless
            ``allow_small_classes``, which puts such a class in train only).
    """
    validate_fractions(validation_fraction, test_fraction)
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    checks = sorted(checks, key=lambda check: check.relative_path)
    planned: list[PlannedFile] = []
    usable = [check for check in checks if not check.problem]
    for check in checks:
        if check.problem:
            planned.append(PlannedFile(check.relative_path, check.class_name, "excluded", check.sha256, "skip", "", check.problem))

    classes_by_digest: dict[str, set[str]] = defaultdict(set)
    for check in usable:
        classes_by_digest[check.sha256].add(check.class_name)
    groups: dict[str, dict[str, list[FileCheck]]] = {name: defaultdict(list) for name in class_names}
    for check in usable:
        conflicting = classes_by_digest[check.sha256]
        if len(conflicting) > 1:
            others = ", ".join(sorted(conflicting - {check.class_name}))
            reason = f"label conflict: the same image is also under class {others}"
            planned.append(PlannedFile(check.relative_path, check.class_name, "excluded", check.sha256, "skip", "", reason))
        else:
            groups[check.class_name][check.sha256].append(check)

    small = {name: len(groups[name]) for name in class_names if len(groups[name]) < 3}
    if small and not allow_small_classes:
        listed = ", ".join(f"{name!r} ({count})" for name, count in small.items())
        raise ValueError(
            f"classes with fewer than 3 distinct usable images cannot be split: {listed}. "
            "Add images, remove the class folder, or pass --allow-small-classes to put them in train only."
        )

    for class_name in class_names:
        digests = sorted(groups[class_name])
        random.Random(f"{seed}:{class_name}").shuffle(digests)
        n_train, n_validation, _ = split_counts(len(digests), validation_fraction, test_fraction)
        taken: set[str] = set()
        for position, digest in enumerate(digests):
            split = "train" if position < n_train else "validation" if position < n_train + n_validation else "test"
            for check in sorted(groups[class_name][digest], key=lambda item: item.relative_path):
                action = "convert" if check.needs_conversion else mode
                name = _destination_name(check.relative_path, check.needs_conversion, taken)
                destination = f"{split}/{class_name}/{name}"
                planned.append(PlannedFile(check.relative_path, class_name, split, check.sha256, action, destination))
    planned.sort(key=lambda item: item.source)
    return SplitPlan(Path(root), list(class_names), planned)


INCOMING = ".incoming"  # folder inside the staging folder for copies made while checking
CSV_COLUMNS = ("source", "class", "split", "sha256", "action", "destination", "reason")


def _write_csv(plan: SplitPlan, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for item in plan.files:
            writer.writerow((item.source, item.class_name, item.split, item.sha256, item.action, item.destination, item.reason))


def read_split_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a ``split.csv`` written by ``write_split``, as dictionaries keyed by column name."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _convert_to_png(source: Path, destination: Path) -> None:
    from PIL import Image

    with Image.open(source) as image:
        image.convert("RGB").save(destination, "PNG")


def _materialise(item: PlannedFile, source_root: Path, staging: Path) -> None:
    source = source_root / item.source
    target = staging / item.destination
    incoming = staging / INCOMING / staged_name(item.source)
    if item.action == "copy" and incoming.exists():
        incoming.rename(target)  # bytes staged while checking: a rename, not a second read
    elif item.action == "convert":
        _convert_to_png(source, target)
    elif item.action == "hardlink":
        try:
            os.link(source, target)
        except OSError as error:
            raise OSError(
                f"cannot hard-link {str(source)!r} into {str(target.parent)!r} ({error}); hard links need "
                "SOURCE and DEST on one file system: use --mode copy or --mode symlink"
            ) from error
    elif item.action == "symlink":
        target.symlink_to(source.resolve())
    else:
        shutil.copyfile(source, target)


def _materialise_chunk(arguments: tuple[str, str, list[PlannedFile]]) -> int:
    source_root, staging, items = arguments
    for item in items:
        _materialise(item, Path(source_root), Path(staging))
    return len(items)


def check_destination(source: Path, destination: Path, force: bool) -> None:
    """Raise unless writing ``destination`` is safe: not inside SOURCE, not holding it, empty or forced."""
    source_resolved, destination_resolved = Path(source).resolve(), Path(destination).resolve()
    if destination_resolved == source_resolved or source_resolved in destination_resolved.parents:
        raise ValueError(f"DEST {str(destination)!r} is inside SOURCE {str(source)!r}; choose a folder outside it")
    if destination_resolved in source_resolved.parents:
        raise ValueError(f"DEST {str(destination)!r} contains SOURCE {str(source)!r}; choose another folder")
    if destination.exists():
        if not destination.is_dir():
            raise ValueError(f"DEST {str(destination)!r} exists and is a file; choose a folder path")
        if any(destination.iterdir()) and not force:
            raise ValueError(
                f"DEST {str(destination)!r} exists and is not empty; pass --force to replace it "
                "(its current contents are deleted only after the new split is complete)"
            )


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM until the block ends, so a kill cannot land between two file-system steps
    that must happen together (creating and recording a staging folder, swapping DEST into place).
    A no-op off the main thread or where the platform cannot block signals."""
    can_block = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    if not can_block:
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def make_staging_folder(destination: Path) -> Path:
    """A new hidden folder beside ``destination`` (same file system, so renaming it is atomic)."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    (staging / INCOMING).mkdir()
    return staging


def write_split(
    plan: SplitPlan,
    destination: Path,
    force: bool = False,
    workers: int | None = None,
    progress: bool = False,
    staging: Path | None = None,
) -> Path:
    """Write the planned split to ``destination`` atomically.

    Everything is built in a hidden temporary folder beside ``destination`` and renamed into place
    only when complete; on any error or interruption the temporary folder is removed and
    ``destination`` is left as it was. The source is only ever read.

    Args:
        staging: A folder from ``make_staging_folder``, possibly holding copies staged while
            checking; a new one is made when None. It is consumed (renamed or removed) either way.

    Returns:
        The destination path.
    """
    destination = Path(destination)
    try:
        check_destination(plan.source_root, destination, force)
        with signals_deferred():
            staging = staging or make_staging_folder(destination)
        for split in SPLIT_NAMES:
            for class_name in plan.classes:
                (staging / split / class_name).mkdir(parents=True)
        kept = plan.kept
        workers = workers or os.cpu_count() or 1
        bar = _progress_bar(len(kept), "writing split", progress)
        try:
            # Links and renames of staged copies are cheap: only unstaged copies are worth processes.
            staged = any((staging / INCOMING).iterdir())
            if workers == 1 or len(kept) < 256 or staged or plan_mode(plan) != "copy":
                for item in kept:
                    _materialise(item, plan.source_root, staging)
                    bar.update(1)
            else:
                chunk_size = 128
                jobs = [(str(plan.source_root), str(staging), kept[start:start + chunk_size]) for start in range(0, len(kept), chunk_size)]
                with process_pool(workers) as pool:
                    for count in pool.map(_materialise_chunk, jobs):
                        bar.update(count)
        finally:
            bar.close()
        shutil.rmtree(staging / INCOMING)  # copies of files that were skipped after all
        _write_csv(plan, staging / "split.csv")
        retired = None
        with signals_deferred():  # the swap is all or nothing
            if destination.exists():
                retired = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
                destination.rename(retired / "old")
            staging.rename(destination)
            staging = None
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def plan_mode(plan: SplitPlan) -> str:
    """The transfer mode of a plan (the action of its non-converted files), "copy" when none."""
    return next((item.action for item in plan.kept if item.action != "convert"), "copy")


def format_report(plan: SplitPlan) -> str:
    """A table of counts per class and split, then the skipped files with their reasons."""
    counts = plan.counts()
    width = max([len("class"), len("total")] + [len(name) for name in plan.classes])
    header = f"{'class':<{width}}  " + "  ".join(f"{name:>10}" for name in SPLIT_NAMES) + f"  {'total':>7}"
    lines = [header, "-" * len(header)]
    for class_name in plan.classes:
        row = counts[class_name]
        lines.append(f"{class_name:<{width}}  " + "  ".join(f"{row[name]:>10}" for name in SPLIT_NAMES) + f"  {sum(row.values()):>7}")
    totals = {name: sum(counts[class_name][name] for class_name in plan.classes) for name in SPLIT_NAMES}
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{totals[name]:>10}" for name in SPLIT_NAMES) + f"  {sum(totals.values()):>7}")
    converted = sum(1 for item in plan.kept if item.action == "convert")
    if converted:
        lines.append(f"\n{converted} file(s) TensorFlow cannot read were converted to RGB PNG.")
    skipped = plan.skipped
    if skipped:
        lines.append(f"\nSkipped {len(skipped)} file(s):")
        reasons = Counter(item.reason.split(":")[0] for item in skipped)
        for item in skipped:
            lines.append(f"  {item.source}: {item.reason}")
        lines.append("  by reason: " + ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items())))
    else:
        lines.append("\nNo files skipped.")
    return "\n".join(lines)


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
) -> SplitPlan:
    """Check, plan and (unless ``dry_run``) write a split. The one call the script and notebooks use.

    Every check on the arguments and DEST runs before any file is opened.

    Returns:
        The plan; ``plan.counts()`` and ``format_report(plan)`` describe it.
    """
    validate_fractions(validation_fraction, test_fraction)
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    root, class_names = find_class_folders(Path(source))
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
            root, files, workers=workers, max_pixels=max_pixels, progress=progress,
            stage_into=staging / INCOMING if staging else None,
        )
        plan = plan_split(root, class_names, checks, validation_fraction, test_fraction, seed, mode, allow_small_classes)
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    if not dry_run:
        write_split(plan, Path(destination), force=force, workers=workers, progress=progress, staging=staging)
    return plan
