"""The small protocol a backend's follower implements for `StoreFollower` (store/follow/follower.py).

A backend (store/file/follower.py, store/sqlite/follower.py, ...) says which folder to watch,
which file events matter, what is there now (`baseline`), what changed at the paths events named
(`on_paths`) and by a stat scan (`scan`), and whether the store is gone. The loop around it
(threads, the rate limit, events -> polling fallback, the registry comparison) is StoreFollower's.
A Store hands its backend out from `Store.change_source()`.
"""

from __future__ import annotations

import os

from .changes import Shown, StoreChanges

#: A change this much older than "now" should have raised an event already.
EVENT_GRACE_NS = 2_000_000_000


class FollowerBackend:
    #: The folder watched and whether recursively; `where` names the store in notices.
    watch_dir: str
    recursive: bool
    where: str
    #: Whether following can go on after the store came back (a file store can).
    can_resume = False
    #: Whether any change may be a registry write (one database), so that the registry is
    #: compared after changes too, not only when `in_registry` paths changed and on scans.
    registry_anywhere = False

    def in_registry(self, path: str) -> bool:
        """Whether `path` is part of the model registry (compared by `registry_sig`)."""
        return False

    def registry_sig(self) -> object:
        """Equal between two looks when the registry did not change (may raise OSError or
        StoreError: then it is compared at the next look)."""
        return None

    def show(self, shown: Shown) -> bool:
        """Take what the pages on show name (a database's follower compares the tags shown,
        which MLflow rewrites in place); True when it wants a look at once."""
        return False

    def relevant(self, path: str) -> bool:
        """Whether an event on `path` may matter (called on watchdog's thread: keep it cheap)."""
        raise NotImplementedError

    def baseline(self, since_ns: int | None = None) -> StoreChanges:
        """Record what is there now: changes are counted from here. Returns what changed from
        `since_ns` (wall clock) until now, as far as the backend can tell."""
        raise NotImplementedError

    def prepare_polling(self) -> None:
        """Record what polling compares against and events did not need."""

    def on_paths(self, paths: set[str], out: StoreChanges) -> None:
        """Look at the dirty paths (none: only what the backend wanted to look at again)."""
        raise NotImplementedError

    def retry_after(self) -> float | None:
        """Seconds after which `on_paths` wants calling again even with no new event."""
        return None

    def scan(self, out: StoreChanges, *, verify: bool, sweep: bool) -> bool:
        """Stat scan for changes; True when (verify) it found one that no event reported."""
        raise NotImplementedError

    def gone(self) -> bool:
        raise NotImplementedError

    def back(self) -> bool:
        return not self.gone()

    def gone_notice(self) -> str:
        return f"{self.where} is gone (deleted or moved); showing what was read before."

    def back_notice(self) -> str:
        return f"{self.where} is back; reload to see it as it is now."

    def experiment_ids(self) -> set[str]:
        return set()


def stat_sig(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
