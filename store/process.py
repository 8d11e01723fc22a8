"""The process-wide state mltui touches, in one place: the garbage collector and the umask.

Importing mltui changes nothing in the process: no collector setting, no umask flip, no warnings
filter. What is changed is changed here, and whether is decided by the program that owns the
process (mltui's app and `mltui export` in `mltui.tui`; a script using `mltui.store` decides for
itself), never by a reader on its own.

Garbage collector. Reading 10,000 runs makes about a million dicts, strings, tuples and entities
that live on. The cyclic collector would walk them (and everything else alive) again and again
meanwhile, finding nothing: what the readers build holds no cycles. Paused, reading a large store
takes 10-30% less time. So:
- readers wrap each burst of allocations in `GcPause`, the only way store/ touches the
  collector. It pauses only when the owner called `allow_gc_pauses()`; pauses from several
  threads share one count, so the collector comes back when the last one ends, and only if it
  was on when the first began. Readers end a pause before handing a batch over, so the
  consumer's own code never runs with collection paused by them.
- the app freezes what lives as long as a screen (`freeze`/`unfreeze`: gc.freeze moves every
  object alive now out of the collector's sight; at 10,000 runs a full collection walking the
  runs table's rows took most of a second).

Umask. Files mltui writes get the mode a plain `open` would give them (0666 less the umask), but
`os.umask` can only be read by setting it, which races other threads' file creation; `umask()`
reads it from /proc where there is one.
"""

from __future__ import annotations

import gc
import os
import threading

_lock = threading.Lock()
_pauses_allowed = False
#: Pauses under way, in any thread; the collector is off while this is above 0.
_pauses = 0
#: Whether the first of those pauses turned the collector off (it was on then).
_paused_it = False
#: The owners (ids) of the objects frozen now: unfrozen when the last one lets go.
_freezers: set[int] = set()


def allow_gc_pauses(allowed: bool = True) -> None:
    """The process's owner lets readers pause the collector (or stops them: from the next
    pause on)."""
    global _pauses_allowed
    _pauses_allowed = allowed


def gc_pauses_allowed() -> bool:
    return _pauses_allowed


class GcPause:
    """`start()`/`stop()` (or a `with` block) around a burst of allocations; nestable, and safe
    from any thread. Does nothing unless the owner allowed pauses (`allow_gc_pauses`)."""

    __slots__ = ("_paused",)

    def __init__(self) -> None:
        self._paused = False

    def start(self) -> None:
        global _pauses, _paused_it
        if self._paused or not _pauses_allowed:
            return
        with _lock:
            if _pauses == 0:
                _paused_it = gc.isenabled()
                gc.disable()
            _pauses += 1
        self._paused = True

    def stop(self) -> None:
        global _pauses
        if not self._paused:
            return
        self._paused = False
        with _lock:
            _pauses -= 1
            if _pauses == 0 and _paused_it:
                gc.enable()

    def __enter__(self) -> GcPause:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def freeze(owner: object) -> None:
    """Move every object alive now out of the collector's sight, for `owner` (e.g. a screen
    whose rows live as long as it does); again on each call, taking in what was made since."""
    with _lock:
        _freezers.add(id(owner))
        gc.freeze()


def unfreeze(owner: object) -> None:
    """`owner` no longer needs its objects frozen; the collector sees them all again once no
    other owner does."""
    with _lock:
        _freezers.discard(id(owner))
        if not _freezers:
            gc.unfreeze()


def umask() -> int:
    """The process's umask: from /proc/self/status where there is one (reading it there sets
    nothing), else by setting and restoring it under a lock, at the time of the write."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask
