"""Following a store live: new runs, changed runs and new metric points while a job trains.

`StoreFollower(store).start(callback)` calls `callback(StoreChanges)` from a background thread
whenever the store changed, at most `max_rate_hz` times a second: a training job may append
thousands of metric points a second, and they come out together in one change set.

How changes are found:

- File store: a watchdog observer on the `mlruns/` folder (recursive) marks paths dirty; the
  follower thread then looks only at those paths. Metric files are append-only (MLflow's
  `append_to`), so each keeps a byte offset and only the bytes past it are read; an unterminated
  last line is a point still being written and waits for its newline (toolong's watcher does
  the same for log files).
- SQLite: the database file and its `-wal` are watched; a change re-reads only rows past the
  last seen `rowid` of `metrics`, `runs`, `tags`, `params`, the runs that were RUNNING (whose
  status and end time change) and, at most every couple of seconds, the run states (to see
  deleted runs).
- Polling, where file events cannot be had (watchdog fails to start, e.g. the inotify limit;
  a network filesystem, where another machine's writes raise no event): a cheap stat scan of
  the folders that gain new experiments and runs, of the runs still RUNNING (and those that
  changed lately), and a slow round-robin sweep over finished runs; never a full re-read.
- In event mode a stat scan of the same live things runs every few seconds as a check: a change
  older than a couple of seconds that no event reported means events are not arriving (the
  inotify watch limit is hit silently below the root, or the filesystem does not deliver
  them), and the follower falls back to polling with a one-line notice.

Points are "new" when they were not in the store when the follower started: offsets start at
each metric file's size then, and a run folder that appears later is read from its start.

What changed between reading the store and starting to follow it (the app starts following a
moment after its first screen was read) is not lost: given `since_ns`, the time the reading
began, the first change set names every experiment, run and registry touched since then.
A file store tells by file times (a folder moved in counts by its ctime; a finished run's tag
rewritten in place and a run folder removed meanwhile are not seen this way). SQLite rows carry
no time, so the store's first read recorded, in its own transaction, the max rowids and the
runs', experiments' and registry's state (`SqliteStore.opened_state`); the baseline compares
with it (a finished run's tag updated in place is not seen). Those named are re-read whole by
whoever shows them, so their points are not repeated.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import yamlfast
from .base import Store
from .entities import ACTIVE, DELETED, Metric
from .errors import StoreError
from .file.reader import (
    REGISTRY,
    RESERVED_EXPERIMENT_FOLDERS,
    TRASH,
    _parse_metric_line,
    _status_name,
)
from .rawread import open_regular, read_bytes
from .sqlite.reader import FOLLOWED_TABLES, LIVE_STATUSES, FollowState

log = logging.getLogger(__name__)

#: How often a store is polled once events turned out not to work.
DEFAULT_POLL_SECONDS = 1.0
#: How often, in event mode, a stat scan checks that events are arriving.
VERIFY_SECONDS = 5.0
#: A change this much older than "now" should have raised an event already.
EVENT_GRACE_NS = 2_000_000_000
#: File times come from the kernel's coarse clock, up to a tick behind `time.time_ns()`: a
#: change counts as after `since_ns` when its time is no more than this before it.
SINCE_SLACK_NS = 50_000_000
#: A run that changed this recently is polled like a RUNNING one.
HOT_SECONDS = 300.0
#: Finished runs checked per poll by the round-robin sweep (a few stat calls each).
SWEEP_RUNS_PER_POLL = 100
#: A meta.yaml read empty or truncated (MLflow writes it in place) is read again after this.
RETRY_SECONDS = 0.1
RETRY_ATTEMPTS = 30
#: SQLite: the whole `runs` table is compared (for deletions) at most this often.
SQLITE_FULL_DIFF_SECONDS = 2.0
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


@dataclass
class StoreChanges:
    """What changed in the store since the previous callback."""

    #: Experiment ids, new or changed (name, tags, lifecycle back to active).
    experiments: set[str] = field(default_factory=set)
    #: Run ids, new or changed (meta.yaml: status, end time, name; params; tags).
    runs: set[str] = field(default_factory=set)
    #: Only the points logged since the last look, in the order they were written.
    metric_points: dict[tuple[str, str], list[Metric]] = field(default_factory=dict)
    deleted_runs: set[str] = field(default_factory=set)
    deleted_experiments: set[str] = field(default_factory=set)
    #: The model registry changed: a model or version added or deleted, a stage, alias,
    #: tag or description set (compared whole: registries are small).
    registry: bool = False
    #: The store folder or database file disappeared (or was replaced).
    store_gone: bool = False
    notices: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(
            self.experiments
            or self.runs
            or self.metric_points
            or self.deleted_runs
            or self.deleted_experiments
            or self.registry
            or self.store_gone
            or self.notices
        )

    @property
    def point_count(self) -> int:
        return sum(len(points) for points in self.metric_points.values())

    def run_changed(self, run_id: str) -> None:
        self.deleted_runs.discard(run_id)
        self.runs.add(run_id)

    def run_deleted(self, run_id: str) -> None:
        self.runs.discard(run_id)
        self.deleted_runs.add(run_id)

    def experiment_changed(self, experiment_id: str) -> None:
        self.deleted_experiments.discard(experiment_id)
        self.experiments.add(experiment_id)

    def experiment_deleted(self, experiment_id: str) -> None:
        self.experiments.discard(experiment_id)
        self.deleted_experiments.add(experiment_id)

    def add_points(self, run_id: str, key: str, points: list[Metric]) -> None:
        if points:
            self.metric_points.setdefault((run_id, key), []).extend(points)


Callback = Callable[[StoreChanges], Any]


class StoreFollower:
    """Follows one open store and reports its changes to a callback, from a background thread."""

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
        if store.kind == "file":
            self._backend: _Backend = _FileFollower(store)
        elif store.kind == "sqlite":
            self._backend = _SqliteFollower(store)
        else:
            raise ValueError(f"cannot follow a {store.kind!r} store")
        self._callback: Callback | None = None
        self._thread: threading.Thread | None = None
        self._observer: Any = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._pending: set[str] = set()
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
            self._emit(StoreChanges(notices=[f"live updates are off: {_one_line(exc)}"]))
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
            now = time.monotonic()
            out = StoreChanges()
            scan = now >= next_scan
            try:
                retry = self._step(paths, out, scan, now >= retry_at)
            except Exception as exc:  # a bug or an unexpected OS error: say it, keep going
                log.exception("store follower step failed")
                out.notices.append(f"live update failed: {_one_line(exc)}")
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
            fstype = _network_filesystem(backend.watch_dir)
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
            self._set_polling(f"file events are unavailable ({_one_line(exc)})")
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


# -- backends --------------------------------------------------------------------------------


class _Backend:
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


def _sig(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class _Exp:
    __slots__ = (
        "dir_mtime",
        "exp_id",
        "meta_hash",
        "meta_sig",
        "path",
        "run_ids",
        "stage",
        "tags_sig",
    )

    def __init__(self, exp_id: str, path: str) -> None:
        self.exp_id = exp_id
        self.path = path
        self.meta_sig: tuple | None = None
        self.meta_hash: int | None = None
        self.stage = ACTIVE
        self.dir_mtime: int | None = None
        self.tags_sig: int | None = None
        self.run_ids: set[str] = set()


class _Run:
    __slots__ = (
        "dirs_sig", "exp_id", "hot_until", "meta_hash", "meta_sig", "offsets", "params_sig",
        "partials", "path", "run_id", "stage", "status", "tags_sig",
    )  # fmt: skip

    def __init__(self, run_id: str, exp_id: str, path: str) -> None:
        self.run_id = run_id
        self.exp_id = exp_id
        self.path = path
        self.status: str | None = None
        self.stage = ACTIVE
        self.meta_sig: tuple | None = None
        self.meta_hash: int | None = None
        self.params_sig: int | None = None
        self.tags_sig: int | None = None
        #: The mtimes of params/, tags/ and metrics/: what the sweep of finished runs compares.
        self.dirs_sig: int | None = None
        self.hot_until = 0.0
        #: metric key -> bytes of its file already looked at.
        self.offsets: dict[str, int] = {}
        #: metric key -> an unterminated last line, waiting for the rest of it.
        self.partials: dict[str, bytes] = {}

    def live(self, now: float) -> bool:
        return self.status is None or self.status in LIVE_STATUSES or self.hot_until > now


class _Retry(Exception):
    """A file was caught mid-write (empty or truncated meta.yaml): look again shortly."""


class _FileFollower(_Backend):
    """Follows an `mlruns/` folder."""

    recursive = True
    can_resume = True

    def __init__(self, store: Store) -> None:
        self.root = os.path.abspath(os.fspath(getattr(store, "root", store.location)))
        self.watch_dir = self.root
        self.where = self.root
        self._prefix = self.root + os.sep
        self._root_real = os.path.realpath(self.root)
        self._registry = os.path.join(self.root, REGISTRY)
        self.exps: dict[str, _Exp] = {}
        self.runs: dict[str, _Run] = {}
        self.root_mtime: int | None = None
        self.root_ino: int | None = None
        self.start_ns = time.time_ns()
        self.polling = False
        self._retry: dict[str, int] = {}
        self._sweep: list[str] = []
        #: During a baseline given `since_ns`: that time (less the clock slack), and what
        #: changed after it.
        self._since: int | None = None
        self._caught_up = StoreChanges()
        self._said: set[str] = set()
        self._verify = False
        self._missed = False
        #: What got events since the last verify scan ("" the root, else experiment/run ids),
        #: and what that scan found changed with no event (suspects, given one more scan).
        self._evented: set[str] = set()
        self._suspects: set[str] = set()
        self._new_suspects: set[str] = set()

    # -- helpers ----------------------------------------------------------------------------
    def _say(self, out: StoreChanges, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            out.notices.append(message)

    def _seen_change(self, key: str, mtime_ns: int | None) -> bool:
        """A scan found a change to `key`; False asks the caller to leave it for its event.

        In verify mode a change with no event since the last scan is suspect: its event may
        be in flight, so it is left alone once. Found again with still no event (a writer
        that keeps writing), or found when it is older than the grace period: events are
        not arriving.
        """
        if not self._verify or key in self._evented:
            return True
        old = mtime_ns is not None and mtime_ns < time.time_ns() - EVENT_GRACE_NS
        if old or key in self._suspects:
            self._missed = True
            return True
        self._new_suspects.add(key)
        return False

    def relevant(self, path: str) -> bool:
        if path == self.root:
            return True
        if not path.startswith(self._prefix):
            return False
        parts = path[len(self._prefix) :].split(os.sep, 3)
        if parts[0] == REGISTRY:
            return True
        if len(parts) >= 2 and parts[1] in ("traces", "datasets", "models"):
            return False
        # Artifacts can be large trees written while training; nothing in them is followed.
        return not (len(parts) >= 3 and parts[2] == "artifacts")

    def in_registry(self, path: str) -> bool:
        return path == self._registry or path.startswith(self._registry + os.sep)

    def registry_sig(self) -> object:
        """Every folder and file of `models/` with its size, time and inode (MLflow rewrites
        meta.yaml and tag files in place; our writes replace them: either changes these)."""
        seen = []
        for folder, dirs, files in os.walk(self._registry):
            dirs.sort()
            for name in ("", *sorted(files)):
                path = os.path.join(folder, name) if name else folder
                st = os.stat(path)
                seen.append((path, st.st_size, st.st_mtime_ns, st.st_ino))
        return hash(tuple(seen))

    def gone(self) -> bool:
        try:
            st = os.stat(self.root)
        except OSError:
            return True
        return self.root_ino is not None and st.st_ino != self.root_ino

    def back_notice(self) -> str:
        return f"{self.where} is back; following it again (reload to see it as it is now)."

    def experiment_ids(self) -> set[str]:
        return set(self.exps)

    def _list_experiments(self) -> dict[str, str]:
        out = {}
        with os.scandir(self.root) as it:
            for entry in it:
                name = entry.name
                if name.startswith(".") or name == REGISTRY:
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        out[name] = entry.path
        return out

    @staticmethod
    def _list_runs(exp_path: str) -> dict[str, str]:
        out = {}
        try:
            it = os.scandir(exp_path)
        except OSError:
            return out
        with it:
            for entry in it:
                if entry.name in RESERVED_EXPERIMENT_FOLDERS:
                    continue
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        out[entry.name] = entry.path
        return out

    @staticmethod
    def _metric_files(run_path: str) -> Iterator[tuple[str, os.stat_result]]:
        """(key, stat) of every metric file of a run; keys may hold "/" (nested folders)."""
        stack = [(os.path.join(run_path, "metrics"), "")]
        while stack:
            folder, prefix = stack.pop()
            try:
                it = os.scandir(folder)
            except OSError:
                continue
            with it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((entry.path, prefix + entry.name + "/"))
                        elif not entry.is_symlink():
                            yield prefix + entry.name, entry.stat(follow_symlinks=False)
                    except OSError:
                        continue

    @staticmethod
    def _values_sig(folder: str, with_stat: bool) -> tuple[int, int]:
        """A hash of a params/tags folder (names; for tags each file's mtime and size too), and
        the newest mtime seen (of the files, else of the folder).

        Params are never rewritten by MLflow (it refuses another value), so names suffice;
        `set_tag` on an existing key rewrites the file in place, so tags need their stat.
        """
        items = []
        newest = _mtime(folder) or 0
        stack = [(folder, "")]
        while stack:
            path, prefix = stack.pop()
            try:
                it = os.scandir(path)
            except OSError:
                continue
            with it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append((entry.path, prefix + entry.name + "/"))
                        elif with_stat:
                            st = entry.stat(follow_symlinks=False)
                            items.append((prefix + entry.name, st.st_mtime_ns, st.st_size))
                            newest = max(newest, st.st_mtime_ns)
                        else:
                            items.append(prefix + entry.name)
                    except OSError:
                        continue
        items.sort()
        return hash(tuple(items)), newest

    def _read_meta(self, path: str) -> tuple[dict, int]:
        """(parsed meta.yaml, hash of its bytes); raises _Retry when caught mid-write."""
        data = read_bytes(path, self._root_real)
        if not data.strip():
            raise _Retry(path)
        try:
            meta = yamlfast.loads(data)
        except Exception as exc:  # truncated mid-write, most likely: MLflow writes in place
            raise _Retry(path) from exc
        if not isinstance(meta, dict):
            raise _Retry(path)
        return meta, hash(data)

    # -- baseline ---------------------------------------------------------------------------
    def baseline(self, since_ns: int | None = None) -> StoreChanges:
        self.exps.clear()
        self.runs.clear()
        self._sweep = []
        self.start_ns = time.time_ns()
        st = os.stat(self.root)
        self.root_mtime, self.root_ino = st.st_mtime_ns, st.st_ino
        self._caught_up = caught_up = StoreChanges()
        self._since = None if since_ns is None else since_ns - SINCE_SLACK_NS
        try:
            for name, path in self._list_experiments().items():
                self._add_experiment(name, path, None)
            if self._since is not None:
                self._catch_up_trash(caught_up)
                caught_up.registry = self._changed_since(_newest_under(self._registry))
        finally:
            self._since = None
        if self.polling:
            self.prepare_polling()
        return caught_up

    def _changed_since(self, *stamps: int | None) -> bool:
        """Whether any of these file times is after `since_ns` (during a baseline given one)."""
        since = self._since
        return since is not None and any(t is not None and t >= since for t in stamps)

    def _catch_up_trash(self, out: StoreChanges) -> None:
        """Experiments moved into .trash (deleted by MLflow) since `since_ns`, and their runs."""
        for exp_id, path in self._list_runs(os.path.join(self.root, TRASH)).items():
            if self._changed_since(_stamp(path)):
                out.experiment_deleted(exp_id)
                for run_id in self._list_runs(path):
                    out.run_deleted(run_id)

    def prepare_polling(self) -> None:
        self.polling = True
        now = time.monotonic()
        for exp in self.exps.values():
            if exp.tags_sig is None:
                exp.tags_sig = self._values_sig(os.path.join(exp.path, "tags"), True)[0]
        for run in self.runs.values():
            if run.dirs_sig is None and not run.live(now):
                run.dirs_sig = self._dirs_sig(run)

    @staticmethod
    def _dirs_sig(run: _Run) -> int:
        return hash(tuple(_mtime(os.path.join(run.path, d)) for d in ("params", "tags", "metrics")))

    def _record_values(self, run: _Run) -> int:
        """Record the run's params and tags; returns the newest file time seen in them."""
        run.params_sig, params_newest = self._values_sig(os.path.join(run.path, "params"), False)
        run.tags_sig, tags_newest = self._values_sig(os.path.join(run.path, "tags"), True)
        return max(params_newest, tags_newest)

    def _add_experiment(self, exp_id: str, path: str, out: StoreChanges | None) -> None:
        """Start following an experiment folder; `out` None means it is part of the baseline."""
        exp = _Exp(exp_id, path)
        dir_st = _sig(path)
        exp.dir_mtime = dir_st[0] if dir_st else None
        self.exps[exp_id] = exp
        with contextlib.suppress(_Retry, OSError):
            self._read_experiment_meta(exp)
        if out is None and self._since is not None:
            tags_sig, tags_newest = self._values_sig(os.path.join(path, "tags"), True)
            exp.tags_sig = tags_sig
            meta_time = exp.meta_sig[0] if exp.meta_sig else None
            # A folder moved in keeps its times but gets a new ctime.
            if self._changed_since(_stamp(path), meta_time, tags_newest):
                self._report_experiment(exp, self._caught_up)
        if out is not None:
            exp.tags_sig = self._values_sig(os.path.join(path, "tags"), True)[0]
            self._report_experiment(exp, out)
        for run_id, run_path in self._list_runs(path).items():
            if not self._add_run(exp, run_id, run_path, out):
                # Caught between MLflow's mkdir and its meta.yaml: look again (events), and
                # list the folder again at the next poll.
                exp.dir_mtime = None
                self._retry.setdefault(os.path.join(run_path, "meta.yaml"), 0)

    def _read_experiment_meta(self, exp: _Exp) -> bool:
        """Re-read an experiment's meta.yaml; True when its content changed."""
        path = os.path.join(exp.path, "meta.yaml")
        sig = _sig(path)
        if sig is None:
            exp.meta_sig = None
            return False
        # The signature first: a file that stays malformed is then not "changed" at every scan
        # (the retry of `on_paths` re-reads one caught mid-write).
        exp.meta_sig = sig
        meta, digest = self._read_meta(path)
        changed = digest != exp.meta_hash
        exp.meta_hash = digest
        exp.stage = str(meta.get("lifecycle_stage") or ACTIVE)
        return changed

    def _add_run(self, exp: _Exp, run_id: str, path: str, out: StoreChanges | None) -> bool:
        """Start following a run folder; False when its meta.yaml is not readable yet."""
        run = _Run(run_id, exp.exp_id, path)
        try:
            self._read_run_meta(run)
        except (_Retry, FileNotFoundError):
            if out is not None:
                return False
            # In the baseline a run with no readable meta.yaml is still followed (as live).
        except OSError:
            return False
        now = time.monotonic()
        # New means every point is new; but a folder with old contents appearing (an
        # experiment restored from .trash, a run moved in) has points that were the store's.
        fresh = out is not None
        if fresh:
            dir_sig = _sig(path)
            fresh = dir_sig is None or dir_sig[0] >= self.start_ns - EVENT_GRACE_NS
        newest = 0
        for key, st in self._metric_files(path):
            run.offsets[_intern(key)] = 0 if fresh else st.st_size
            newest = max(newest, st.st_mtime_ns)
        live = run.live(now)
        if live:
            newest = max(newest, self._record_values(run))
        if self.polling:
            run.dirs_sig = self._dirs_sig(run)
        self.runs[run_id] = run
        exp.run_ids.add(run_id)
        if out is None and self._since is not None:
            # Changed since the reading began: whoever shows the run reads it again, whole.
            # A new param or tag changes its folder's time (a live run's were looked at above).
            folders = () if live else (_mtime(os.path.join(path, d)) for d in ("params", "tags"))
            meta_time = run.meta_sig[0] if run.meta_sig else None
            if self._changed_since(_stamp(path), meta_time, newest, *folders):
                self._report_run(run, self._caught_up)
        if out is not None:
            run.hot_until = now + HOT_SECONDS
            self._report_run(run, out)
            if fresh:
                for key in list(run.offsets):
                    self._read_points(run, key, out)
        return True

    def _read_run_meta(self, run: _Run) -> bool:
        """Re-read a run's meta.yaml; True when its content changed."""
        path = os.path.join(run.path, "meta.yaml")
        sig = _sig(path)
        if sig is None:
            raise FileNotFoundError(path)
        run.meta_sig = sig  # first, as for experiments
        meta, digest = self._read_meta(path)
        changed = digest != run.meta_hash
        run.meta_hash = digest
        run.status = _status_name(meta.get("status")) or str(meta.get("status"))
        run.stage = str(meta.get("lifecycle_stage") or ACTIVE)
        return changed

    def _drop_run(self, run_id: str, out: StoreChanges) -> None:
        run = self.runs.pop(run_id, None)
        if run is not None:
            exp = self.exps.get(run.exp_id)
            if exp is not None:
                exp.run_ids.discard(run_id)
        out.run_deleted(run_id)

    @staticmethod
    def _report_experiment(exp: _Exp, out: StoreChanges) -> None:
        deleted = exp.stage == DELETED
        (out.experiment_deleted if deleted else out.experiment_changed)(exp.exp_id)

    @staticmethod
    def _report_run(run: _Run, out: StoreChanges) -> None:
        (out.run_deleted if run.stage == DELETED else out.run_changed)(run.run_id)

    def _drop_experiment(self, exp_id: str, out: StoreChanges) -> None:
        exp = self.exps.pop(exp_id, None)
        out.experiment_deleted(exp_id)
        if exp is not None:
            # MLflow marks an experiment's runs deleted with it (they are gone from view).
            for run_id in list(exp.run_ids):
                self._drop_run(run_id, out)

    # -- metric points ----------------------------------------------------------------------
    def _read_points(self, run: _Run, key: str, out: StoreChanges) -> None:
        """Read what was appended to a metric file since the last look; complete lines only."""
        path = os.path.join(run.path, "metrics", *key.split("/"))
        offset = run.offsets.get(key, 0)
        try:
            fd, st = open_regular(path, self._root_real)
            with os.fdopen(fd, "rb") as fh:
                size = st.st_size
                if size < offset:
                    # MLflow only appends: a shorter file was rewritten by someone else. Its
                    # points can't be told apart from old ones; the run is re-read instead.
                    run.offsets[key] = size
                    run.partials.pop(key, None)
                    out.run_changed(run.run_id)
                    self._say(out, f"{path} got shorter (rewritten?); its run is re-read whole.")
                    return
                if size == offset:
                    return
                fh.seek(offset)
                data = fh.read()
        except IsADirectoryError:
            # A folder: a new key holding "/" (loss/train); read the files inside it.
            for sub, _ in self._metric_files(run.path):
                if sub.startswith(key + "/") and sub not in run.offsets:
                    run.offsets[_intern(sub)] = 0
                    self._read_points(run, sub, out)
            return
        except FileNotFoundError:
            run.offsets.pop(key, None)
            run.partials.pop(key, None)
            return
        except OSError as exc:
            self._say(out, f"{path} cannot be read ({exc.strerror or exc}).")
            return
        if key not in run.offsets:
            key = _intern(key)
        run.offsets[key] = offset + len(data)
        partial = run.partials.pop(key, None)
        if partial:
            data = partial + data
        end = data.rfind(b"\n")
        if end < len(data) - 1:
            # The last line has no newline yet: the writer is mid-line; keep it for later.
            run.partials[key] = data[end + 1 :]
            data = data[: end + 1]
        if not data:
            return
        points = []
        bad = 0
        for line in data.split(b"\n"):
            if not line:
                continue
            point = _parse_metric_line(line)
            if point is None:
                bad += 1
            else:
                points.append(Metric(key, point[2], point[1], point[0]))
        if bad:
            self._say(out, f"{path}: malformed metric line(s) ignored.")
        out.add_points(run.run_id, key, points)
        run.hot_until = time.monotonic() + HOT_SECONDS

    # -- events -----------------------------------------------------------------------------
    def retry_after(self) -> float | None:
        return RETRY_SECONDS if self._retry else None

    def on_paths(self, paths: set[str], out: StoreChanges) -> None:
        retry, self._retry = self._retry, {}
        rescan_root = False
        exps: set[str] = set()
        run_dirs: set[tuple[str, str]] = set()
        metas: set[str] = set()
        values: set[str] = set()
        metric_keys: set[tuple[str, str]] = set()
        prefix_len = len(self._prefix)
        evented = self._evented
        for path in paths | set(retry):
            if path == self.root:
                rescan_root = True
                evented.add("")
                continue
            if not path.startswith(self._prefix):
                continue
            parts = path[prefix_len:].split(os.sep)
            top = parts[0]
            evented.add("" if len(parts) == 1 or top == TRASH else top)
            if len(parts) > 2:
                evented.add(parts[1])
            if len(parts) == 1 or top == TRASH:
                rescan_root = True
                continue
            exp = self.exps.get(top)
            if exp is None:
                rescan_root = True
                continue
            second = parts[1]
            if second == "meta.yaml" or second == "tags":
                exps.add(top)
                continue
            if second in RESERVED_EXPERIMENT_FOLDERS:
                continue
            run = self.runs.get(second)
            if run is None or run.exp_id != top or len(parts) == 2:
                run_dirs.add((top, second))
                continue
            third = parts[2]
            if third == "meta.yaml":
                metas.add(second)
            elif third == "metrics":
                if len(parts) > 3:
                    metric_keys.add((second, "/".join(parts[3:])))
                else:
                    run_dirs.add((top, second))  # the metrics folder itself: look at it all
            elif third in ("params", "tags", "inputs", "outputs"):
                values.add(second)

        if rescan_root:
            self._rescan_root(out)
        for exp_id in exps:
            exp = self.exps.get(exp_id)
            if exp is None:
                continue
            self._check_experiment_meta(exp, out, retry, force=True)
            if exp.tags_sig is not None:
                exp.tags_sig = self._values_sig(os.path.join(exp.path, "tags"), True)[0]
        for exp_id, run_id in run_dirs:
            exp = self.exps.get(exp_id)
            if exp is not None:
                self._check_run_dir(exp, run_id, out, retry)
        for run_id in metas:
            run = self.runs.get(run_id)
            if run is not None:
                self._check_run_meta(run, out, retry)
        now = time.monotonic()
        for run_id in values:
            run = self.runs.get(run_id)
            if run is not None:
                run.hot_until = now + HOT_SECONDS
                if run.stage != DELETED:
                    out.run_changed(run_id)
                if run.tags_sig is not None:
                    self._record_values(run)
        for run_id, key in metric_keys:
            run = self.runs.get(run_id)
            if run is not None:
                self._read_points(run, key, out)

    def _again(self, path: str, retry: dict[str, int], out: StoreChanges) -> None:
        attempts = retry.get(path, 0) + 1
        if attempts < RETRY_ATTEMPTS:
            self._retry[path] = attempts
        elif os.path.exists(path):  # a folder with no meta.yaml at all is not a run: no news
            self._say(out, f"{path}: empty or malformed; skipped.")

    def _rescan_root(self, out: StoreChanges) -> None:
        st = _sig(self.root)
        if st is None:
            return
        self.root_mtime = st[0]
        try:
            present = self._list_experiments()
        except OSError:
            return
        for exp_id in list(self.exps):
            if exp_id not in present:
                self._drop_experiment(exp_id, out)
        for exp_id, path in present.items():
            if exp_id not in self.exps:
                self._seen_change("", _mtime(path))
                self._add_experiment(exp_id, path, out)

    def _check_experiment_meta(
        self, exp: _Exp, out: StoreChanges, retry: dict[str, int], force: bool = False
    ) -> None:
        """Re-read an experiment's meta.yaml; `force` reports it even if only its tags changed."""
        path = os.path.join(exp.path, "meta.yaml")
        try:
            changed = self._read_experiment_meta(exp)
        except _Retry:
            self._again(path, retry, out)
            return
        except OSError:
            return
        if exp.stage == DELETED:
            out.experiment_deleted(exp.exp_id)
        elif changed or force:
            out.experiment_changed(exp.exp_id)

    def _check_run_dir(
        self, exp: _Exp, run_id: str, out: StoreChanges, retry: dict[str, int]
    ) -> None:
        path = os.path.join(exp.path, run_id)
        run = self.runs.get(run_id)
        if not os.path.isdir(path):
            if run is not None and run.exp_id == exp.exp_id:
                self._drop_run(run_id, out)
            return
        if run is None:
            if not self._add_run(exp, run_id, path, out):
                # No meta.yaml yet (MLflow writes it just after the folder): look again.
                self._again(os.path.join(path, "meta.yaml"), retry, out)
            return
        if run.exp_id != exp.exp_id:
            return
        # The metrics folder or a nested key folder appeared: pick up files not seen yet.
        for key, _ in self._metric_files(run.path):
            if key not in run.offsets:
                run.offsets[_intern(key)] = 0
                self._read_points(run, key, out)

    def _check_run_meta(self, run: _Run, out: StoreChanges, retry: dict[str, int]) -> None:
        try:
            changed = self._read_run_meta(run)
        except _Retry:
            self._again(os.path.join(run.path, "meta.yaml"), retry, out)
            return
        except FileNotFoundError:
            if not os.path.isdir(run.path):
                self._drop_run(run.run_id, out)
            return
        except OSError:
            return
        if not changed:
            return
        run.hot_until = time.monotonic() + HOT_SECONDS
        self._report_run(run, out)

    # -- polling ----------------------------------------------------------------------------
    def scan(self, out: StoreChanges, *, verify: bool, sweep: bool) -> bool:
        self._verify = verify
        self._missed = False
        self._new_suspects = set()
        try:
            self._scan(out, sweep)
        finally:
            self._verify = False
            self._suspects = self._new_suspects
            self._evented.clear()
        return self._missed

    def _scan(self, out: StoreChanges, sweep: bool) -> None:
        root = _sig(self.root)
        if root is None:
            return
        if root[0] != self.root_mtime:
            self._rescan_root(out)
        for exp in list(self.exps.values()):
            if self.exps.get(exp.exp_id) is exp:  # not dropped by a rescan meanwhile
                self._scan_experiment(exp, out)
        now = time.monotonic()
        for run in list(self.runs.values()):
            if run.live(now):
                self._scan_run(run, out)
        if sweep:
            self._sweep_finished(out, now)

    def _scan_experiment(self, exp: _Exp, out: StoreChanges) -> None:
        dir_sig = _sig(exp.path)
        if dir_sig is None:
            self._rescan_root(out)
            return
        if dir_sig[0] != exp.dir_mtime:
            # A run folder was added or removed (stat first: one added meanwhile shows next time).
            exp.dir_mtime = dir_sig[0]
            present = self._list_runs(exp.path)
            for run_id in list(exp.run_ids):
                if run_id not in present:
                    self._drop_run(run_id, out)
            for run_id, path in present.items():
                if run_id not in self.runs:
                    if self._add_run(exp, run_id, path, out):
                        self._seen_change(exp.exp_id, _mtime(path))
                    else:
                        exp.dir_mtime = None  # meta.yaml not there yet: list it again next time
        meta_sig = _sig(os.path.join(exp.path, "meta.yaml"))
        if meta_sig != exp.meta_sig:
            self._seen_change(exp.exp_id, meta_sig[0] if meta_sig else None)
            self._check_experiment_meta(exp, out, {})
        if exp.tags_sig is not None and self.polling:
            tags_sig, _ = self._values_sig(os.path.join(exp.path, "tags"), True)
            if tags_sig != exp.tags_sig:
                exp.tags_sig = tags_sig
                out.experiment_changed(exp.exp_id)

    def _scan_run(self, run: _Run, out: StoreChanges) -> None:
        meta_sig = _sig(os.path.join(run.path, "meta.yaml"))
        if meta_sig is None:
            if not os.path.isdir(run.path):
                self._drop_run(run.run_id, out)
            return
        if meta_sig != run.meta_sig:
            self._seen_change(run.run_id, meta_sig[0])
            self._check_run_meta(run, out, {})
        if run.params_sig is None or run.tags_sig is None:
            self._record_values(run)
        else:
            params_sig, params_newest = self._values_sig(os.path.join(run.path, "params"), False)
            tags_sig, tags_newest = self._values_sig(os.path.join(run.path, "tags"), True)
            if (params_sig, tags_sig) != (run.params_sig, run.tags_sig):
                run.params_sig, run.tags_sig = params_sig, tags_sig
                run.hot_until = time.monotonic() + HOT_SECONDS
                self._seen_change(run.run_id, max(params_newest, tags_newest))
                if run.stage != DELETED:
                    out.run_changed(run.run_id)
        for key, st in self._metric_files(run.path):
            offset = run.offsets.get(key)
            if offset is None or st.st_size != offset:
                if not self._seen_change(run.run_id, st.st_mtime_ns):
                    continue
                if offset is None:
                    run.offsets[_intern(key)] = 0
                self._read_points(run, key, out)
        if self.polling:
            run.dirs_sig = self._dirs_sig(run)

    def _sweep_finished(self, out: StoreChanges, now: float) -> None:
        """Check a slice of the finished runs, so that a 10,000-run store costs little a poll."""
        budget = SWEEP_RUNS_PER_POLL
        refilled = False
        while budget > 0:
            if not self._sweep:
                if refilled:
                    return  # fewer finished runs than the budget: each was checked once
                self._sweep = [r for r, run in self.runs.items() if not run.live(now)]
                refilled = True
                continue
            run = self.runs.get(self._sweep.pop())
            if run is None or run.live(now):
                continue
            self._sweep_run(run, out, now)
            budget -= 1

    def _sweep_run(self, run: _Run, out: StoreChanges, now: float) -> None:
        """The light check of a finished run: its meta.yaml and its three folders' mtimes.

        A new param, tag or metric key changes a folder's mtime, and new points a metric file's
        size; the run then counts as live for a while, so the next polls look at each of its
        files. (A tag of a finished run rewritten in place shows only by events.)
        """
        meta_sig = _sig(os.path.join(run.path, "meta.yaml"))
        if meta_sig is None:
            if not os.path.isdir(run.path):
                self._drop_run(run.run_id, out)
            return
        if meta_sig != run.meta_sig:
            self._check_run_meta(run, out, {})
        dirs_sig = self._dirs_sig(run)
        if dirs_sig != run.dirs_sig:
            known = run.dirs_sig is not None
            run.dirs_sig = dirs_sig
            if known:
                run.hot_until = now + HOT_SECONDS
                if run.stage != DELETED:
                    out.run_changed(run.run_id)
                self._scan_run(run, out)
                return
        # Points appended to a finished run (MlflowClient.log_metric after the fact).
        offsets = run.offsets
        for key, st in self._metric_files(run.path):
            if st.st_size != offsets.get(key):
                run.hot_until = now + HOT_SECONDS
                self._scan_run(run, out)
                return


def _mtime(path: str) -> int | None:
    sig = _sig(path)
    return sig[0] if sig else None


def _stamp(path: str) -> int | None:
    """The later of a path's mtime and ctime: a folder renamed into place keeps its mtime, and
    gets a new ctime."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return max(st.st_mtime_ns, st.st_ctime_ns)


def _newest_under(folder: str) -> int | None:
    """The latest `_stamp` of a folder and everything under it (None: no such folder)."""
    newest = None
    for parent, _dirs, files in os.walk(folder):
        for path in (parent, *(os.path.join(parent, name) for name in files)):
            stamp = _stamp(path)
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
    return newest


_interned: dict[str, str] = {}


def _intern(key: str) -> str:
    """One string object per metric key across runs: 100,000 metric files share a few names."""
    return _interned.setdefault(key, key)


class _SqliteFollower(_Backend):
    """Follows an MLflow SQLite database through the store's read-only connection."""

    recursive = False
    registry_anywhere = True

    def __init__(self, store: Store) -> None:
        self.store: Any = store
        self.path = os.path.abspath(os.fspath(store.location))
        self.watch_dir = os.path.dirname(self.path)
        self.where = self.path
        # The `-journal` of rollback mode comes and goes within each write; the db file itself
        # changes at commit. `-shm` is written by readers too (us): never a reason to look.
        self._names = frozenset({self.path, self.path + "-wal"})
        self.ino: int | None = None
        self.last_sig: tuple | None = None
        self.max_rowid: dict[str, int] = {}
        self.run_states: dict[str, tuple] = {}
        self.live: dict[str, tuple] = {}
        self.exps: dict[str, tuple] = {}
        self.next_full = 0.0
        self.full_pending = False
        self.failures = 0
        self.retry_at: float | None = None
        #: Events arrived since the last verify scan; that scan found a change with none.
        self.evented = False
        self.suspect = False
        self._registry_read: tuple[tuple, object] | None = None

    def relevant(self, path: str) -> bool:
        return path in self._names

    def registry_sig(self) -> object:
        """The registry tables' rows, hashed; read again only when the database changed."""
        sig = self._file_sig()  # before reading: a commit during the read shows next time
        if self._registry_read is not None and self._registry_read[0] == sig:
            return self._registry_read[1]
        value = self.store._read(self.store.registry_hash)
        self._registry_read = (sig, value)
        return value

    def gone(self) -> bool:
        sig = _sig(self.path)
        return sig is None or (self.ino is not None and sig[2] != self.ino)

    def gone_notice(self) -> str:
        return f"{self.where} is gone (deleted, moved or replaced); showing what was read before."

    def back(self) -> bool:
        return os.path.exists(self.path)

    def back_notice(self) -> str:
        return f"{self.where} is back; reopen it to follow it again."

    def _file_sig(self) -> tuple:
        return (_sig(self.path), _sig(self.path + "-wal"))

    def baseline(self, since_ns: int | None = None) -> StoreChanges:
        """Given `since_ns`, the first change set is what changed since the store's first read
        (`opened_state`): rows carry no time of change, but that read recorded the state."""
        st = os.stat(self.path)
        self.ino = st.st_ino
        self.last_sig = self._file_sig()
        store = self.store
        opened = store.opened_state if since_ns is not None else None

        def read(conn):
            now = store.follow_marks(conn)
            return now, (self._touched(conn, opened.max_rowid, now.max_rowid) if opened else {})

        now, touched = store._read(read)
        store.fill_run_states(now)
        self.max_rowid = dict(now.max_rowid)
        self.run_states = dict(now.runs)
        self.live = {
            rid: (state, now.live_tags.get(rid))
            for rid, state in now.runs.items()
            if state[2] in LIVE_STATUSES
        }
        self.exps = dict(now.experiments)
        self.next_full = time.monotonic() + SQLITE_FULL_DIFF_SECONDS
        self.full_pending = False
        return StoreChanges() if opened is None else self._since(opened, now, touched)

    def _touched(self, conn, since: dict[str, int], until: dict[str, int]) -> dict[str, set]:
        """The runs (experiments, for experiment_tags) with rows added between two states."""
        touched = {}
        for t in FOLLOWED_TABLES:
            if t != "runs" and self.store._has(t) and until[t] > since.get(t, 0):
                col = "experiment_id" if t == "experiment_tags" else "run_uuid"
                touched[t] = {
                    str(r[0])
                    for r in conn.execute(
                        f"SELECT DISTINCT {col} FROM {t} WHERE rowid > ? AND rowid <= ?",
                        (since.get(t, 0), until[t]),
                    )
                }
        return touched

    def _since(self, opened: FollowState, now: FollowState, touched: dict) -> StoreChanges:
        """What changed from `opened` to `now`: runs and experiments to read again whole
        (their points included, so none is reported twice), and whether the registry did."""
        out = StoreChanges(registry=opened.registry != now.registry)
        for rid, state in now.runs.items():
            was = opened.runs.get(rid)
            tags = now.live_tags.get(rid)
            if was != state or opened.live_tags.get(rid, tags) != tags:
                self._report_run(rid, state, out)
        for rid in opened.runs.keys() - now.runs.keys():
            out.run_deleted(rid)
        for t in ("metrics", "tags", "params"):
            for rid in touched.get(t, ()):
                state = now.runs.get(rid)
                if state is not None and state[4] != DELETED:
                    out.run_changed(rid)
        for eid, state in now.experiments.items():
            if opened.experiments.get(eid) != state:
                if state[2] == DELETED:
                    out.experiment_deleted(eid)
                else:
                    out.experiment_changed(eid)
        for eid in opened.experiments.keys() - now.experiments.keys():
            out.experiment_deleted(eid)
        for eid in touched.get("experiment_tags", ()):
            state = now.experiments.get(eid)
            if state is not None and state[2] != DELETED:
                out.experiment_changed(eid)
        return out

    def on_paths(self, paths: set[str], out: StoreChanges) -> None:
        if paths:
            self.evented = True
        self.retry_at = self._refresh(out)

    def retry_after(self) -> float | None:
        if self.retry_at is None:
            return None
        return max(0.0, self.retry_at - time.monotonic())

    def scan(self, out: StoreChanges, *, verify: bool, sweep: bool) -> bool:
        sig = self._file_sig()
        changed = sig != self.last_sig
        evented, self.evented = self.evented, False
        suspect, self.suspect = self.suspect, False
        if not changed and not self.full_pending:
            return False
        missed = False
        if verify and changed and not evented:
            # Changed with no event since the last scan. Its event may be in flight: leave it
            # for one more scan, unless it is old or was already suspect then.
            newest = max((s[0] for s in sig if s is not None), default=None)
            if (newest is not None and newest < time.time_ns() - EVENT_GRACE_NS) or suspect:
                missed = True
            else:
                self.suspect = True
                return False
        self.retry_at = self._refresh(out)
        return missed

    def _refresh(self, out: StoreChanges) -> float | None:
        """Read what is new since the last look, in one read transaction.

        Returns when (monotonic) to look again with no event: a full comparison is due, or
        the database was locked.
        """
        store = self.store
        sig = self._file_sig()  # before reading: a commit during the read shows next time
        now = time.monotonic()
        full = now >= self.next_full
        run_cols = store.state_run_columns()
        exp_sql = store.state_experiments_sql()
        c = store._col
        maxes = dict(self.max_rowid)
        live_ids = list(self.live)

        def read(conn):
            got: dict[str, Any] = {}
            if store._has("metrics"):
                t = "metrics"
                got["metrics"] = conn.execute(
                    f"SELECT rowid, run_uuid, key, value, {c(t, 'timestamp', '0')}, "
                    f"{c(t, 'step', '0')}, {c(t, 'is_nan', '0')} FROM metrics "
                    "WHERE rowid > ? ORDER BY rowid",
                    (maxes["metrics"],),
                ).fetchall()
            got["new_runs"] = conn.execute(
                f"SELECT rowid, {run_cols} FROM runs WHERE rowid > ?", (maxes["runs"],)
            ).fetchall()
            live_rows = []
            for part, marks in store._id_chunks(live_ids):
                live_rows += conn.execute(
                    f"SELECT {run_cols} FROM runs WHERE run_uuid IN ({marks})", part
                ).fetchall()
            got["live"] = live_rows
            for t in ("tags", "params", "experiment_tags"):
                if store._has(t):
                    col = "experiment_id" if t == "experiment_tags" else "run_uuid"
                    got[t] = conn.execute(
                        f"SELECT rowid, {col} FROM {t} WHERE rowid > ?", (maxes[t],)
                    ).fetchall()
            got["exps"] = conn.execute(exp_sql).fetchall()
            if full:
                got["all_runs"] = conn.execute(f"SELECT {run_cols} FROM runs").fetchall()
            new_live = {r[1] for r in got["new_runs"] if r[4] in LIVE_STATUSES}
            got["tags_hash"] = store.live_tags(conn, set(live_ids) | new_live)
            return got

        try:
            got = store._read(read)
        except StoreError as exc:
            # Locked by a long write, most likely: nothing advanced, so try again shortly.
            self.failures += 1
            if self.failures == 3:
                out.notices.append(f"live updates are waiting: {_one_line(exc)}")
            return time.monotonic() + 1.0
        self.failures = 0
        self.last_sig = sig

        for rowid, rid, key, value, ts, step, is_nan in got.get("metrics", ()):
            value = math.nan if is_nan or value is None else value
            out.add_points(rid, key, [Metric(key, value, ts, step or 0)])
            maxes["metrics"] = max(maxes["metrics"], rowid)
        tags_hash = got["tags_hash"]
        for row in got["new_runs"]:
            rowid, rid, state = row[0], row[1], row[2:]
            maxes["runs"] = max(maxes["runs"], rowid)
            self.run_states[rid] = state
            self._report_run(rid, state, out)
            if state[2] in LIVE_STATUSES:
                self.live[rid] = (state, tags_hash.get(rid))
        seen_live = set()
        for row in got["live"]:
            rid, state = row[0], row[1:]
            seen_live.add(rid)
            old_state, old_tags = self.live.get(rid, (None, None))
            new_tags = tags_hash.get(rid)
            if state != old_state or new_tags != old_tags:
                self._report_run(rid, state, out)
            self.run_states[rid] = state
            if state[2] in LIVE_STATUSES:
                self.live[rid] = (state, new_tags)
            else:
                self.live.pop(rid, None)
        for rid in live_ids:
            if rid not in seen_live:  # the row is gone (garbage-collected)
                self.live.pop(rid, None)
                self.run_states.pop(rid, None)
                out.run_deleted(rid)
        for t in ("tags", "params"):
            for rowid, rid in got.get(t, ()):
                maxes[t] = max(maxes[t], rowid)
                state = self.run_states.get(rid)
                if state is None or state[4] != DELETED:
                    out.run_changed(rid)
        for rowid, eid in got.get("experiment_tags", ()):
            maxes["experiment_tags"] = max(maxes["experiment_tags"], rowid)
            exp = self.exps.get(str(eid))
            if exp is None or exp[2] != DELETED:
                out.experiment_changed(str(eid))
        exps = {str(e[0]): e[1:] for e in got["exps"]}
        for eid, state in exps.items():
            if self.exps.get(eid) != state:
                if state[2] == DELETED:
                    out.experiment_deleted(eid)
                else:
                    out.experiment_changed(eid)
        for eid in self.exps:
            if eid not in exps:
                out.experiment_deleted(eid)
        self.exps = exps
        self.max_rowid = maxes

        if full:
            self.next_full = now + SQLITE_FULL_DIFF_SECONDS
            self.full_pending = False
            states = {r[0]: r[1:] for r in got["all_runs"]}
            for rid, state in states.items():
                if self.run_states.get(rid) != state:
                    self._report_run(rid, state, out)
                    if state[2] in LIVE_STATUSES and rid not in self.live:
                        self.live[rid] = (state, None)  # resumed: follow its status again
            for rid in self.run_states:
                if rid not in states:
                    out.run_deleted(rid)
                    self.live.pop(rid, None)
            self.run_states = states
            return None
        # A finished run deleted or renamed shows only in the full comparison: have one soon.
        self.full_pending = True
        return self.next_full

    @staticmethod
    def _report_run(run_id: str, state: tuple, out: StoreChanges) -> None:
        # state: (experiment_id, name, status, end_time, lifecycle_stage, deleted_time)
        if state[4] == DELETED:
            out.run_deleted(run_id)
        else:
            out.run_changed(run_id)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _network_filesystem(path: str, mounts: str | None = None) -> str | None:
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
