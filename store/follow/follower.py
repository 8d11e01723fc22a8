"""Following a store live: the loop every backend shares.

`store.follower().start(callback)` calls `callback(StoreChanges)` from a background thread
whenever the store changed, at most `max_rate_hz` times a second: a training job may append
thousands of metric points a second, and they come out together in one change set.

This module is the loop: a watchdog observer on the folder the backend names marks paths dirty
and wakes the follower thread, which asks the backend (a `FollowerBackend`, store/follow/
backend.py, handed out by `Store.change_source()`) what changed there; the registry is compared
whole (registries are small) after changes and on scans. How a format finds its changes is its
backend's: store/file/follower.py (appended metric bytes, stat scans of what may change) and
store/sqlite/follower.py (rows past the last seen rowids).

- Polling, where file events cannot be had (watchdog fails to start, e.g. the inotify limit;
  a network filesystem, where another machine's writes raise no event): the backend's cheap
  stat scan, every `poll_seconds`; never a full re-read.
- In event mode the same scan runs every few seconds as a check: a change older than a couple
  of seconds that no event reported means events are not arriving (the inotify watch limit is
  hit silently below the root, or the filesystem does not deliver them), and the follower falls
  back to polling with a one-line notice.

Points are "new" when they were not in the store when the follower started. What changed
between reading the store and starting to follow it (the app starts following a moment after
its first screen was read) is not lost: given `since_ns`, the time the reading began, the first
change set names every experiment, run and registry touched since then, as far as the backend
can tell (see each backend's module). Those named are re-read whole by whoever shows them, so
their points are not repeated.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import StoreError
from .backend import FollowerBackend, one_line
from .changes import Callback, Shown, StoreChanges

if TYPE_CHECKING:
    from ..base import Store

log = logging.getLogger(__name__)

#: How often a store is polled once events turned out not to work.
DEFAULT_POLL_SECONDS = 1.0
#: How often, in event mode, a stat scan checks that events are arriving.
VERIFY_SECONDS = 5.0
#: SQLite: the registry tables are compared after commits at most this often (any commit may
#: be a registry write); a commit within that time is looked at when it is over. Half a second,
#: so that a registry change shows within 1 s (at 1.0, 2 of 360 of MLflow's showed after 1.0-
#: 1.07 s in tests/bench/soak.py).
REGISTRY_SECONDS = 0.5
#: Filesystems where another machine's writes raise no inotify event.
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "afs", "ceph", "glusterfs", "lustre",
        "gpfs", "davfs", "vboxsf", "sshfs", "beegfs", "ocfs2", "gfs2",
    }
)  # fmt: skip


class Follower(Protocol):
    """What following a store offers (the app uses nothing else): `StoreFollower`, or a
    backend's own loop (store/server/follow.py's `ServerFollower`)."""

    #: "events" or "polling".
    mode: str
    #: Why the follower polls when it was not asked to, as one sentence; else None.
    notice: str | None
    #: Whether it looks only at what `show` named: then pages not on show hear of changes
    #: when they are shown again, not as they happen.
    shown_only: bool

    def start(self, callback: Callback) -> None: ...

    def show(self, shown: Shown) -> None: ...

    def wait_ready(self, timeout: float | None = None) -> bool: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    @property
    def running(self) -> bool: ...


class StoreFollower:
    """Follows one open store and reports its changes to a callback, from a background thread."""

    #: Events and stat scans see every change at little cost: all of them are reported.
    shown_only = False

    def __init__(
        self,
        store: Store,
        *,
        poll_seconds: float | None = None,
        max_rate_hz: float = 4,
        since_ns: int | None = None,
    ) -> None:
        """`since_ns` (wall clock, e.g. `store.opened_ns`): report in the first change set what
        changed from then until following starts; None: only changes from the start on."""
        if poll_seconds is not None and not poll_seconds > 0:
            raise ValueError("poll_seconds must be a positive number of seconds")
        if not max_rate_hz > 0:
            raise ValueError("max_rate_hz must be positive")
        self.store = store
        self.poll_seconds = poll_seconds
        self.max_rate_hz = max_rate_hz
        self.since_ns = since_ns
        #: "events" or "polling"; may turn to "polling" after start (see `notice`).
        self.mode = "polling" if poll_seconds else "events"
        #: Why the follower polls when it was not asked to, as one sentence; else None.
        self.notice: str | None = None
        self._backend: FollowerBackend = store.change_source()
        self._callback: Callback | None = None
        self._thread: threading.Thread | None = None
        self._observer: Any = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        #: The backend wants a look with no event (`show`).
        self._look = False
        self._last_emit = -math.inf
        self._gone = False
        self._start_notices: list[str] = []
        self._caught_up = StoreChanges()
        self._registry_sig: object = None
        self._next_registry = -math.inf
        self._registry_pending = False

    # -- public ---------------------------------------------------------------------------
    def start(self, callback: Callback) -> None:
        """Begin following; returns at once (the baseline is taken in the background)."""
        if self._thread is not None:
            raise RuntimeError("this follower was already started")
        self._callback = callback
        self._thread = threading.Thread(target=self._run, name="mltui-store-follower", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the baseline is taken: changes from then on are reported."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop following; no callback starts after this returns."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._stop_observer()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def show(self, shown: Shown) -> None:
        """Events and scans see every change anyway; a database's backend compares the tags
        on show, which MLflow rewrites in place (no new row): a new scope is looked at once."""
        if self._backend.show(shown):
            with self._lock:
                self._look = True
            self._wake.set()

    # -- the follower thread --------------------------------------------------------------
    @property
    def _interval(self) -> float:
        if self.mode == "polling":
            return self.poll_seconds or DEFAULT_POLL_SECONDS
        return VERIFY_SECONDS

    def _run(self) -> None:
        try:
            self._begin()
        except Exception as exc:
            log.exception("store follower failed to start")
            self._stop_observer()
            self._ready.set()
            self._emit(StoreChanges(notices=[f"live updates are off: {one_line(exc)}"]))
            return
        self._ready.set()
        try:
            self._loop()
        finally:
            # stop() may have run while the observer was being started: never leave it behind.
            self._stop_observer()

    def _loop(self) -> None:
        first = self._caught_up
        first.notices[:0] = self._start_notices
        if first:
            self._emit(first)
        next_scan = time.monotonic() + self._interval
        retry_at = math.inf
        while not self._stop.is_set():
            timeout = max(0.0, min(next_scan, retry_at) - time.monotonic())
            self._wake.wait(timeout)
            if self._stop.is_set():
                break
            # Coalesce: whatever arrives while we wait out the rate limit joins this round.
            gap = self._last_emit + 1.0 / self.max_rate_hz - time.monotonic()
            if gap > 0 and self._stop.wait(gap):
                break
            self._wake.clear()
            with self._lock:
                paths, self._pending = self._pending, set()
                look, self._look = self._look, False
            now = time.monotonic()
            out = StoreChanges()
            scan = now >= next_scan
            try:
                retry = self._step(paths, out, scan, look or now >= retry_at)
            except Exception as exc:  # a bug or an unexpected OS error: say it, keep going
                log.exception("store follower step failed")
                out.notices.append(f"live update failed: {one_line(exc)}")
                retry = None
            if scan:
                next_scan = time.monotonic() + self._interval
            retry_at = math.inf if retry is None else time.monotonic() + retry
            if out:
                self._emit(out)

    def _step(
        self, paths: set[str], out: StoreChanges, scan: bool, retry_due: bool
    ) -> float | None:
        backend = self._backend
        if self._gone:
            if scan and backend.back():
                self._gone = False
                out.notices.append(backend.back_notice())
                if backend.can_resume:
                    backend.baseline()
                    self._check_registry(None)
                    out.experiments.update(backend.experiment_ids())
                    if self.mode == "events":
                        self._start_events(out)
            return None
        if (paths or scan) and backend.gone():
            self._gone = True
            out.store_gone = True
            out.notices.append(backend.gone_notice())
            self._stop_observer()
            return None
        in_registry = {p for p in paths if backend.in_registry(p)}
        elsewhere = paths - in_registry
        if elsewhere or retry_due:
            backend.on_paths(elsewhere, out)
        if scan:
            missed = backend.scan(out, verify=self.mode == "events", sweep=self.mode == "polling")
            if missed and self.mode == "events":
                self._fall_back(
                    f"changes to {backend.where} raised no file event (a network filesystem, "
                    "or the inotify watch limit reached?)",
                    out,
                )
        if paths and backend.registry_anywhere:
            self._registry_pending = True
        if (
            scan
            or in_registry
            or (self._registry_pending and time.monotonic() >= self._next_registry)
        ):
            self._check_registry(out)
        retry = backend.retry_after()
        if self._registry_pending:  # a look put off by the rate limit, or that failed
            wait = max(0.0, self._next_registry - time.monotonic())
            retry = wait if retry is None else min(retry, wait)
        return retry

    def _check_registry(self, out: StoreChanges | None) -> None:
        """Compare the registry with the last look (`out` None: only record it)."""
        self._next_registry = time.monotonic() + REGISTRY_SECONDS
        try:
            sig = self._backend.registry_sig()
        except (OSError, StoreError):
            # Unreadable for now (locked, a folder going away): look again after a while.
            self._registry_pending = True
            return
        self._registry_pending = False
        if out is not None and sig != self._registry_sig:
            out.registry = True
        self._registry_sig = sig

    def _begin(self) -> None:
        backend = self._backend
        if self.mode == "events":
            fstype = network_filesystem(backend.watch_dir)
            if fstype is not None:
                self._set_polling(
                    f"{backend.where} is on a network filesystem ({fstype}), where other "
                    "machines' writes raise no file event"
                )
                self._start_notices.append(self.notice or "")
            else:
                self._start_events(None)
        self._caught_up = backend.baseline(self.since_ns)
        self._check_registry(None)
        if self.mode == "polling":
            backend.prepare_polling()

    def _start_events(self, out: StoreChanges | None) -> None:
        backend = self._backend
        try:
            from watchdog.events import (
                DirCreatedEvent,
                DirDeletedEvent,
                DirMovedEvent,
                FileCreatedEvent,
                FileDeletedEvent,
                FileModifiedEvent,
                FileMovedEvent,
                FileSystemEventHandler,
            )
            from watchdog.observers import Observer

            follower = self

            class _Handler(FileSystemEventHandler):
                def on_any_event(self, event) -> None:
                    follower._on_event(event.src_path, event.dest_path)

            # Only what a writer does: our own reads (open, close) raise no event this way.
            kinds = [
                FileCreatedEvent,
                FileModifiedEvent,
                FileDeletedEvent,
                FileMovedEvent,
                DirCreatedEvent,
                DirDeletedEvent,
                DirMovedEvent,
            ]
            observer = Observer()
            observer.schedule(
                _Handler(), backend.watch_dir, recursive=backend.recursive, event_filter=kinds
            )
            observer.start()
        except Exception as exc:  # inotify limits, no watchdog, an unsupported platform...
            self._set_polling(f"file events are unavailable ({one_line(exc)})")
            if out is None:
                self._start_notices.append(self.notice or "")
            else:
                out.notices.append(self.notice or "")
            return
        self._observer = observer

    def _on_event(self, src: str | bytes, dest: str | bytes) -> None:
        """Called on watchdog's thread: note the paths, wake the follower, nothing more."""
        relevant = self._backend.relevant
        hit = False
        for path in (src, dest):
            if path:
                path = os.fsdecode(path)
                if relevant(path):
                    with self._lock:
                        self._pending.add(path)
                    hit = True
        if hit:
            self._wake.set()

    def _set_polling(self, reason: str) -> None:
        self.mode = "polling"
        seconds = self.poll_seconds or DEFAULT_POLL_SECONDS
        self.notice = f"{reason}; polling {self._backend.where} every {seconds:g} s instead."

    def _fall_back(self, reason: str, out: StoreChanges) -> None:
        self._stop_observer()
        self._set_polling(reason)
        self._backend.prepare_polling()
        out.notices.append(self.notice or "")

    def _stop_observer(self) -> None:
        observer, self._observer = self._observer, None
        if observer is not None:
            with contextlib.suppress(Exception):
                observer.stop()
                if observer is not threading.current_thread():
                    observer.join(5.0)

    def _emit(self, changes: StoreChanges) -> None:
        self._last_emit = time.monotonic()
        callback = self._callback
        if callback is None or self._stop.is_set():
            return
        try:
            callback(changes)
        except Exception:
            log.exception("store follower callback failed")


def network_filesystem(path: str, mounts: str | None = None) -> str | None:
    """The filesystem type of `path` when it is one where events from other machines never come.

    `mounts` is the text of /proc/self/mounts (read when not given; absent off Linux).
    """
    if mounts is None:
        try:
            with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
                mounts = fh.read()
        except OSError:
            return None  # not Linux: the platform's own watcher decides
    real = os.path.realpath(path)
    best, best_type = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # /proc/mounts escapes spaces and the like as octal (\040).
        point = fields[1].encode().decode("unicode_escape")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, fields[2]
    if best_type is None:
        return None
    if best_type in NETWORK_FILESYSTEMS or best_type.startswith(("fuse.", "nfs")):
        return best_type
    return None
