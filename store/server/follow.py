"""Following a tracking server live: it has no push, so poll, and back off while nothing changes.

Each poll costs a few requests whatever the server holds: the experiments, the runs still
RUNNING, the runs started since the last poll, and `runs/get` of runs that stopped running.
A run's latest metrics come with it, so a history is fetched only for a key whose latest point
moved, at a bounded rate. A full listing, rarer, catches the rest (deleted runs, a tag set on a
finished run).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..entities import Metric, Run
from ..follow.changes import StoreChanges
from .errors import ServerError

if TYPE_CHECKING:
    from .store import ServerStore

log = logging.getLogger(__name__)

DEFAULT_POLL_SECONDS = 2.0
#: The longest pause between polls while nothing changes: a new run shows within this.
MAX_POLL_SECONDS = 10.0
#: The pause between polls while the server does not answer.
FAILING_POLL_SECONDS = 30.0
BACKOFF_FACTOR = 1.5
#: A full listing (deleted runs, a tag set on a finished run) this often at most: its cost
#: grows with the server's runs (10,000 runs are megabytes of JSON).
FULL_LISTING_SECONDS = 120.0
#: History requests per second at most, however many runs log at once.
HISTORY_REQUESTS_PER_SECOND = 4.0

RunSignature = tuple[Any, ...]


def signature(run: Run) -> RunSignature:
    """What a change of the run changes (its latest metrics are followed apart)."""
    return (
        run.status,
        run.end_time,
        run.lifecycle_stage,
        run.run_name,
        tuple(sorted(run.params.items())),
        tuple(sorted(run.tags.items())),
    )


def latest(run: Run) -> dict[str, tuple[int, int, float]]:
    return {k: (m.step, m.timestamp, m.value) for k, m in run.metrics.items()}


class ServerFollower:
    """Polls one ServerStore and reports its changes to a callback, from a background thread.

    The same surface as `store.watch.StoreFollower` (start, wait_ready, stop, running, mode,
    notice)."""

    def __init__(
        self,
        store: ServerStore,
        *,
        poll_seconds: float | None = None,
        max_rate_hz: float = 4,
        since_ns: int | None = None,
    ) -> None:
        if poll_seconds is not None and not poll_seconds > 0:
            raise ValueError("poll_seconds must be a positive number of seconds")
        if not max_rate_hz > 0:
            raise ValueError("max_rate_hz must be positive")
        self.store = store
        self.poll_seconds = poll_seconds or DEFAULT_POLL_SECONDS
        self.max_rate_hz = max_rate_hz
        self.since_ns = since_ns
        self.mode = "polling"
        self.notice: str | None = None
        self._callback: Callable[[StoreChanges], Any] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._experiments: dict[str, tuple] = {}
        self._runs: dict[str, RunSignature] = {}
        self._latest: dict[str, dict[str, tuple[int, int, float]]] = {}
        self._running: set[str] = set()
        self._seen_points: dict[tuple[str, str], int] = {}
        self._newest_start = 0
        self._last_full = time.monotonic()
        self._failing = False
        self._last_history = 0.0

    # -- public ------------------------------------------------------------------------------
    def start(self, callback: Callable[[StoreChanges], Any]) -> None:
        if self._thread is not None:
            raise RuntimeError("this follower was already started")
        self._callback = callback
        self._thread = threading.Thread(target=self._run, name="mltui-server-follower", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        interval = self.poll_seconds
        try:
            first = self._baseline()
        except ServerError as exc:
            self._ready.set()
            self._emit(StoreChanges(notices=[f"live updates are off: {exc}"]))
            return
        self._ready.set()
        if first:
            self._emit(first)
        while not self._stop.wait(interval):
            try:
                changes = self._poll()
            except ServerError as exc:
                if not self._failing:
                    self._failing = True
                    self._emit(StoreChanges(notices=[f"live updates paused: {exc}"]))
                interval = FAILING_POLL_SECONDS
                continue
            except Exception:
                log.exception("server follower poll failed")
                interval = FAILING_POLL_SECONDS
                continue
            if self._failing:
                self._failing = False
                changes.notices.append("live updates resumed: the server answers again.")
            if changes:
                self._emit(changes)
                interval = self.poll_seconds
            else:
                interval = min(interval * BACKOFF_FACTOR, MAX_POLL_SECONDS)

    def _emit(self, changes: StoreChanges) -> None:
        if self._callback is not None and not self._stop.is_set():
            self._callback(changes)

    # -- what changed --------------------------------------------------------------------------
    def _baseline(self) -> StoreChanges:
        changes = StoreChanges()
        self._check_experiments(changes)
        since_ms = self.since_ns // 1_000_000 if self.since_ns is not None else None
        for run in self._all_runs():
            self._remember(run)
            if since_ms is not None and (run.start_time or 0) >= since_ms:
                changes.run_changed(run.run_id)
        if since_ms is None:
            changes = StoreChanges()  # only changes from now on
        return changes

    def _poll(self) -> StoreChanges:
        changes = StoreChanges()
        ids = self._check_experiments(changes)
        if time.monotonic() - self._last_full >= FULL_LISTING_SECONDS:
            self._last_full = time.monotonic()
            runs = self._all_runs()
            listed = {r.run_id for r in runs}
            for run_id in set(self._runs) - listed:
                self._forget(run_id)
                changes.run_deleted(run_id)
        else:
            runs = self._recent_runs(ids)
        for run in runs:
            self._compare(run, changes)
        return changes

    def _check_experiments(self, changes: StoreChanges) -> list[str]:
        current = {
            e.experiment_id: (e.name, e.lifecycle_stage, e.last_update_time, tuple(e.tags.items()))
            for e in self.store.experiments(include_deleted=True)
        }
        if self._experiments:
            for exp_id, sig in current.items():
                if self._experiments.get(exp_id) != sig:
                    if sig[1] == "deleted":
                        changes.deleted_experiments.add(exp_id)
                    else:
                        changes.experiments.add(exp_id)
        self._experiments = current
        return [i for i, sig in current.items() if sig[1] != "deleted"]

    def _all_runs(self) -> list[Run]:
        return self.store.runs(None, include_deleted=False)

    def _recent_runs(self, ids: list[str]) -> list[Run]:
        """Runs still running, runs started since the newest seen, and runs that stopped."""
        store = self.store
        runs = store.search_runs(ids, "attributes.status = 'RUNNING'")
        runs += store.search_runs(ids, f"attributes.start_time >= {self._newest_start}")
        listed = {r.run_id for r in runs}
        for run_id in self._running - listed:
            run = store.run(run_id)
            if run is None:
                continue
            runs.append(run)
        return runs

    def _remember(self, run: Run) -> None:
        self._runs[run.run_id] = signature(run)
        self._latest[run.run_id] = latest(run)
        if run.is_running:
            self._running.add(run.run_id)
        else:
            self._running.discard(run.run_id)
        self._newest_start = max(self._newest_start, run.start_time or 0)

    def _forget(self, run_id: str) -> None:
        self._runs.pop(run_id, None)
        self._latest.pop(run_id, None)
        self._running.discard(run_id)

    def _compare(self, run: Run, changes: StoreChanges) -> None:
        run_id = run.run_id
        before = self._runs.get(run_id)
        old_latest = self._latest.get(run_id, {})
        if run.lifecycle_stage == "deleted":
            if before is not None:
                self._forget(run_id)
                changes.run_deleted(run_id)
            return
        if before != signature(run):
            changes.run_changed(run_id)
        new_latest = latest(run)
        for key, point in new_latest.items():
            if old_latest.get(key) != point:
                changes.run_changed(run_id)
                if before is not None:
                    changes.add_points(
                        run_id, key, self._new_points(run_id, key, old_latest.get(key))
                    )
        self._remember(run)

    def _new_points(self, run_id: str, key: str, previous: tuple | None) -> list[Metric]:
        """The points logged since the last look: by count once known, else those after the
        previous latest point."""
        pause = self._last_history + 1 / HISTORY_REQUESTS_PER_SECOND - time.monotonic()
        if pause > 0 and self._stop.wait(pause):
            return []
        self._last_history = time.monotonic()
        history = self.store.metric_history(run_id, key)
        seen = self._seen_points.get((run_id, key))
        self._seen_points[(run_id, key)] = len(history)
        if seen is not None:
            return history[seen:]
        if previous is None:
            return history
        step, timestamp = previous[0], previous[1]
        return [p for p in history if (p.step, p.timestamp) > (step, timestamp)]
