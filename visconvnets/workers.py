"""Worker processes and progress bars shared by the split and the synthetic data set (no TensorFlow)."""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor

from tqdm import tqdm


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool that is safe to start from any program: forked (fast) while TensorFlow is not
    loaded, spawned once it is (forking a process that runs TensorFlow's threads can deadlock)."""
    method = "spawn" if "tensorflow" in sys.modules else "fork"
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


class _NoProgress:
    def update(self, _count: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, description: str, enabled: bool):
    """A tqdm bar on stderr counting files, or a silent stand-in when not ``enabled``."""
    if not enabled:
        return _NoProgress()
    return tqdm(total=total, desc=description, unit="file", file=sys.stderr, leave=False)
