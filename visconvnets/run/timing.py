"""Seconds per named stage of a run, and the model passes each ran (``models.passes``), for ``metrics.json`` ->
``timings`` and the report's account."""

from __future__ import annotations

import contextlib
import time

from ..models import passes


class Stopwatch:
    """Adds up wall time per stage name, and the model passes counted meanwhile (``passes``: {stage: {kind:
    image-passes}}; a stage inside another counts in the inner one only); ``summary()`` adds the total since
    it was made."""

    def __init__(self):
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self.passes: dict[str, dict[str, float]] = {}
        self._open: list[str] = []

    @contextlib.contextmanager
    def stage(self, name: str):
        start, counted = time.perf_counter(), passes.counts()
        self._open.append(name)
        try:
            yield
        finally:
            self._open.pop()
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 2)
            ran = self.passes.setdefault(name, dict.fromkeys(passes.KINDS, 0.0))
            for kind, images in passes.since(counted).items():
                ran[kind] += images
                for outer in self._open:  # an enclosing stage's passes less this one's
                    self.passes.setdefault(outer, dict.fromkeys(passes.KINDS, 0.0))[kind] -= images

    def summary(self) -> dict[str, float]:
        return {**self.seconds, "total": round(time.perf_counter() - self.started, 1)}


def stage(stopwatch: Stopwatch | None, name: str):
    """``stopwatch.stage(name)``, or a context that times nothing when there is no stopwatch."""
    return stopwatch.stage(name) if stopwatch is not None else contextlib.nullcontext()
