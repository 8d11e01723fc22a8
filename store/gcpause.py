"""Pausing Python's cyclic garbage collector while a reader builds many small acyclic objects.

Reading 10,000 runs makes about a million dicts, strings, tuples and entities that live on. The
collector would walk them (and everything else alive, e.g. a loaded MLflow in a benchmark) again
and again meanwhile, finding nothing: what the readers build holds no cycles. Paused, reading a
large store takes 10-30% less time. Readers resume collection before they hand a batch over, so
the consumer's own code never runs with collection paused.
"""

from __future__ import annotations

import gc


class GcPause:
    """`start()`/`stop()` (or a `with` block) around a burst of allocations; nestable."""

    __slots__ = ("_paused",)

    def __init__(self) -> None:
        self._paused = False

    def start(self) -> None:
        if not self._paused and gc.isenabled():
            gc.disable()
            self._paused = True

    def stop(self) -> None:
        if self._paused:
            self._paused = False
            gc.enable()

    def __enter__(self) -> GcPause:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
