"""Seconds per named stage of a run, for ``metrics.json`` -> ``timings`` and the report's account."""

from __future__ import annotations

import contextlib
import time


class Stopwatch:
    """Adds up wall time per stage name; ``summary()`` adds the total since it was made."""

    def __init__(self):
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 2)

    def summary(self) -> dict[str, float]:
        return {**self.seconds, "total": round(time.perf_counter() - self.started, 1)}


def stage(stopwatch: Stopwatch | None, name: str):
    """``stopwatch.stage(name)``, or a context that times nothing when there is no stopwatch."""
    return stopwatch.stage(name) if stopwatch is not None else contextlib.nullcontext()
