"""Values remembered per model, for as long as the model lives: the one cache every per-model fact uses
(receptive fields, the CAM layer, traced calls, untrained twins)."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable


class PerModel:
    """Values made once per (model, key) and kept as long as the model lives. Models are held weakly, so a
    value must not hold its model strongly (traced calls read it through a ``weakref``). Errors are not
    remembered: a ``make`` that raises is called again next time."""

    def __init__(self):
        self._by_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get(self, model, key=None):
        """The value made for ``model`` and ``key``, or None."""
        return self._by_model.get(model, {}).get(key)

    def get_or_make(self, model, key, make: Callable):
        """The value for ``model`` and ``key``, ``make()`` on first use."""
        values = self._by_model.setdefault(model, {})
        if key not in values:
            values[key] = make()
        return values[key]

    def drop(self, model) -> None:
        """Forget every value made for ``model``."""
        self._by_model.pop(model, None)

    def clear(self) -> None:
        """Forget every value of every model."""
        self._by_model.clear()


def per_model_cache(function: Callable) -> Callable:
    """``function(model, *args)`` remembered per model and arguments in a ``PerModel``, for facts about a
    model's graph that every picture asks for. ``.clear()`` forgets everything."""
    remembered = PerModel()

    @functools.wraps(function)
    def cached(model, *args):
        return remembered.get_or_make(model, args, lambda: function(model, *args))

    cached.clear = remembered.clear
    return cached
