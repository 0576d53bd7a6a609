"""Seconds per named stage of a run, and the model passes each ran (``models.passes``), for ``metrics.json`` ->
``timings`` and the report's account."""

from __future__ import annotations

import contextlib
import time

from ..models import passes


class Stopwatch:
    """Adds up wall time per stage name, and the model passes counted meanwhile (``passes``: {stage: {kind:
    image-passes}}); ``summary()`` adds the total since it was made. Stages follow one another (a stage
    inside another would count its seconds and passes in both)."""

    def __init__(self):
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self.passes: dict[str, dict[str, float]] = {}

    @contextlib.contextmanager
    def stage(self, name: str):
        start, counted = time.perf_counter(), passes.counts()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 2)
            ran = self.passes.setdefault(name, dict.fromkeys(passes.KINDS, 0.0))
            for kind, images in passes.since(counted).items():
                ran[kind] += images

    def summary(self) -> dict[str, float]:
        return {**self.seconds, "total": round(time.perf_counter() - self.started, 1)}


def stage(stopwatch: Stopwatch | None, name: str):
    """``stopwatch.stage(name)``, or a context that times nothing when there is no stopwatch."""
    return stopwatch.stage(name) if stopwatch is not None else contextlib.nullcontext()
