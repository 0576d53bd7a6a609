"""Writing a planned split atomically: built in a hidden folder beside DEST, renamed into place when
complete, signals held around the file-system steps that must go together.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from ...settings import outputs
from ..workers import ordered_results, process_alive, process_pool, progress_bar
from .audit import write_split_csv
from .checks import staged_name
from .planned import EXCLUDED, SPLIT_NAMES, PlannedFile, SplitPlan

INCOMING = ".incoming"  # folder inside the staging folder for copies made while checking


def _convert_to_png(source: Path, destination: Path) -> None:
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


DEFERRED = (signal.SIGINT, signal.SIGTERM)  # the signals signals_deferred holds


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM until the block ends, so a kill cannot land between two file-system steps
    that must happen together (creating and recording a staging folder, swapping DEST into place).

    Done with Python-level handlers that only record the signal, then re-raised once the block is over:
    blocking the signal with ``pthread_sigmask`` holds it in the main thread only, and the kernel hands a
    process-wide signal to any other thread (NumPy's BLAS threads), whose C handler then runs the
    Python handler in the block anyway. A no-op off the main thread (handlers can only be set there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {number: signal.signal(number, lambda got, _frame: received.append(got)) for number in DEFERRED}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if received:
            signal.raise_signal(received[0])  # now, with the caller's handler back in place


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname())[:40]


def remove_abandoned_staging(destination: Path) -> list[Path]:
    """Remove the hidden folders beside ``destination`` that a run on this machine started and never
    finished because it was killed (``kill -9``, a crash: nothing could clean up); the folders removed.
    A folder's owner is in its name (``.DEST.partial-<host>-<pid>-<random>``); live owners' are kept."""
    destination = Path(destination)
    removed = []
    for folder in destination.parent.glob(f".{glob.escape(destination.name)}.partial-*"):
        owner = re.fullmatch(rf"\.{re.escape(destination.name)}\.partial-(.+)-(\d+)-[^-]+", folder.name)
        if owner is None or owner.group(1) != _host() or process_alive(int(owner.group(2))):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        print(f"removed {folder}, left by process {owner.group(2)}, which was killed before it finished")
    return removed


def make_staging_folder(destination: Path) -> Path:
    """A new hidden folder beside ``destination`` (same file system, so renaming it is atomic), named
    after this machine and process so that a later run can tell it was abandoned; abandoned ones of
    earlier runs are removed first."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_staging(destination)
    prefix = f".{destination.name}.partial-{_host()}-{os.getpid()}-"
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=destination.parent))
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
        _fill_staging(plan, staging, workers or os.cpu_count() or 1, progress)
        shutil.rmtree(staging / INCOMING)  # copies of files that were skipped after all
        write_split_csv(plan, staging / outputs.SPLIT_CSV)
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


def _fill_staging(plan: SplitPlan, staging: Path, workers: int, progress: bool) -> None:
    """Every kept file into ``staging/<split>/<class>/``: renames of staged copies, links, conversions,
    and copies (in ``workers`` processes when there are many unstaged copies)."""
    for split in SPLIT_NAMES:
        for class_name in plan.classes:
            (staging / split / class_name).mkdir(parents=True)
    kept = plan.kept
    bar = progress_bar(len(kept), "writing split", progress)
    try:
        # Links and renames of staged copies are cheap: only unstaged copies are worth processes.
        with os.scandir(staging / INCOMING) as entries:  # not iterdir(), which lists all 100,000 names first
            staged = next(entries, None) is not None
        if workers == 1 or len(kept) < 256 or staged or plan_mode(plan) != "copy":
            for item in kept:
                _materialise(item, plan.source_root, staging)
                bar.update(1)
        else:
            chunk_size = 128
            jobs = (
                (str(plan.source_root), str(staging), kept[start : start + chunk_size])
                for start in range(0, len(kept), chunk_size)
            )
            with process_pool(workers) as pool:
                for count in ordered_results(pool, _materialise_chunk, jobs, window=4 * workers):
                    bar.update(count)
    finally:
        bar.close()


def plan_mode(plan: SplitPlan) -> str:
    """The transfer mode of a plan (the action of its non-converted files), "copy" when none."""
    transferred = np.count_nonzero(plan.splits != EXCLUDED) - np.count_nonzero(plan.converted())
    return plan.mode if transferred else "copy"
