"""What an output folder holds and who uses it.

* ``check_resume``: a fresh start, a killed training to resume, a trained model whose pictures a killed
  run did not finish, or a finished run (refused without ``--restart``; the demo replaces its own).
* One run per output folder: ``OUT/.visconvnets.lock`` names the process using OUT. A second run on
  the same ``--output`` stops at once with a message naming the first; a lock left by a process that is
  gone (``kill -9``, a crash) is taken over, saying so. The lock is created with ``O_CREAT | O_EXCL``,
  so two runs starting together cannot both get it.

Imports ``config``, ``outputs`` and ``workers`` only (no TensorFlow).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from pathlib import Path

from ..data.workers import process_alive
from ..settings import outputs
from ..settings.config import TRAINING_KEYS

FRESH_LOCK_SECONDS = 5.0  # an unreadable lock younger than this is being written, not abandoned


def _age_seconds(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0  # vanished meanwhile: try again


def _holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # vanished, or half-written by a process killed while writing it


def acquire(out_dir: Path) -> Path:
    """Take ``OUT``'s lock for this process; returns its path.

    Raises:
        RuntimeError: another live process on this machine holds it (the message names it).
    """
    path = Path(out_dir) / outputs.LOCK
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    for _ in range(50):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is None and _age_seconds(path) < FRESH_LOCK_SECONDS:
                time.sleep(0.1)  # just created by a run starting now, not yet written: read it again
                continue
            if holder and holder.get("host") == record["host"] and process_alive(int(holder.get("pid", -1))):
                raise RuntimeError(
                    f"{str(out_dir)!r} is in use by another run (process {holder['pid']}, started "
                    f"{holder.get('started', '?')}); wait for it to finish or choose another --output"
                ) from None
            if holder and holder.get("host") != record["host"]:
                raise RuntimeError(
                    f"{str(out_dir)!r} is locked by a run on {holder.get('host')!r} (process {holder.get('pid')}); "
                    f"if that run is over, delete {path} and start again"
                ) from None
            print(f"note: taking over {path} from process {holder.get('pid') if holder else '?'}, which is gone")
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        return path
    raise RuntimeError(f"could not take {path}: other runs keep creating it")


def release(path: Path) -> None:
    """Remove the lock if this process holds it."""
    holder = _holder(Path(path))
    if holder and holder.get("pid") == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            Path(path).unlink()


@contextlib.contextmanager
def holding(out_dir: Path):
    """``with holding(OUT):`` the block runs with OUT's lock; released however it ends."""
    path = acquire(out_dir)
    try:
        yield path
    finally:
        release(path)


def remove_run_outputs(out_dir: Path) -> list[str]:
    """Delete everything a run wrote in ``out_dir`` (``outputs.RUN_OUTPUTS``; never the demo's data or
    unknown files); the names removed."""
    removed = []
    for name in outputs.RUN_OUTPUTS:
        target = Path(out_dir) / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        else:
            continue
        removed.append(name)
    return removed


def _check_same_settings(out_dir: Path, current_settings: dict, what: str) -> None:
    saved = outputs.read_json(out_dir / outputs.CONFIG).get("config", {})
    changed = [key for key in TRAINING_KEYS if key in saved and saved[key] != current_settings[key]]
    if changed:
        differences = ", ".join(f"{key}: {saved[key]} -> {current_settings[key]}" for key in changed)
        raise ValueError(
            f"{str(out_dir)!r} holds {what} with other settings ({differences}); rerun with the "
            "same settings to continue it, pass --restart to discard it, or choose another --output"
        )


def check_resume(out_dir: Path, current_settings: dict, restart: bool, replace_finished: bool = False) -> str:
    """What ``out_dir`` holds, and so what this run does: "fresh" (train from the start), "resume"
    (training was killed: continue from the last finished epoch) or "finish" (killed after the model
    was saved: skip training, make the pictures and the report).

    Args:
        restart: Remove the previous run's outputs first (``--restart``).
        replace_finished: A finished run (its report written) is removed, saying so, instead of refused
            (the demo: its command works every time).

    Raises:
        ValueError: an unfinished run with other training settings, or a finished run (nothing is
            overwritten without ``--restart``).
    """
    out_dir = Path(out_dir)
    finished = (out_dir / outputs.MODEL).exists() and (out_dir / outputs.REPORT).exists()
    if restart or (finished and replace_finished):
        removed = remove_run_outputs(out_dir)
        if removed and not restart:
            print(f"replacing the previous run in {out_dir} ({len(removed)} outputs removed; its data kept)")
        return "fresh"
    if (out_dir / outputs.MODEL).exists() and (out_dir / outputs.TRAINING_SUMMARY).exists() and not finished:
        _check_same_settings(out_dir, current_settings, "a trained model whose pictures were not finished")
        shutil.rmtree(out_dir / outputs.TRAINING_STATE, ignore_errors=True)  # killed before it was removed
        return "finish"
    if (out_dir / outputs.TRAINING_STATE).exists():
        _check_same_settings(out_dir, current_settings, "an unfinished run")
        return "resume"
    if (out_dir / outputs.MODEL).exists():
        raise ValueError(
            f"{str(out_dir)!r} already holds a finished run; use --model {out_dir / outputs.MODEL} to evaluate "
            "and visualise it again, --restart to train again (replacing it), or another --output"
        )
    return "fresh"
