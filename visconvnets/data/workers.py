"""Worker processes and progress bars shared by the split and the synthetic data set (no TensorFlow)."""

from __future__ import annotations

import collections
import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from tqdm import tqdm

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies (Linux)


def die_with_parent() -> None:
    """In a worker: ask Linux to send SIGTERM when the parent dies, so a ``kill -9`` of the program
    leaves no orphan workers running (a no-op elsewhere). SIGTERM gets its default action back (a forked
    worker inherits the program's handler, which would turn it into an exception inside the task), and
    a worker whose parent is already gone ends at once."""
    if not sys.platform.startswith("linux"):
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # no libc prctl (an unusual libc): workers end when their work does
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # reparented: the parent died before the request
        os.kill(os.getpid(), signal.SIGTERM)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool that is safe to start from any program: forked (fast) while TensorFlow is not
    loaded, spawned once it is (forking a process that runs TensorFlow's threads can deadlock). Its
    workers die with the program (``die_with_parent``)."""
    method = "spawn" if "tensorflow" in sys.modules else "fork"
    context = multiprocessing.get_context(method)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=die_with_parent)


def ordered_results(pool: ProcessPoolExecutor, function: Callable, jobs: Iterable, window: int) -> Iterator:
    """``function(job)`` for each job, in order, run in ``pool`` with at most ``window`` jobs submitted and
    not yet handed back. ``pool.map`` submits every job at once, holding all their arguments (100,000
    files' paths) and results in memory; this holds ``window`` and takes ``jobs`` lazily."""
    pending: collections.deque = collections.deque()
    try:
        for job in jobs:
            pending.append(pool.submit(function, job))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:  # an error or an abandoned iteration: drop the work not started
            future.cancel()


def progress_bar(total: int, description: str, enabled: bool):
    """A tqdm bar on stderr counting files; silent (tqdm's own ``disable``) when not ``enabled``."""
    return tqdm(total=total, desc=description, unit="file", file=sys.stderr, leave=False, disable=not enabled)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
