"""Following a tracking server live: it has no push, so poll, and back off while nothing changes.

Each look costs requests, so the follower looks only at what the pages on show need (`show`,
a `Shown`); until told, at everything (the experiments and every experiment's runs):

- the experiments list: the experiments, and the runs started since the newest seen (counts);
- an experiment's runs: those still RUNNING, those started since the newest seen, and
  `runs/get` of runs that stopped running; now and then a full listing of them (deleted runs,
  a tag set on a finished run: no cheaper query finds those), FULL_LISTING_SECONDS after the
  last, twice as long after each that found nothing new (up to FULL_LISTING_MAX_SECONDS), back
  to FULL_LISTING_SECONDS after one that did or when the experiment is shown again;
- a run's page or a chart: `runs/get` of each run still running (a run's latest metrics come
  with it), and the history of a charted metric whose latest point moved, at a bounded rate;
- traces: the newest traces of the experiments listed.

An experiment's runs are taken in when it is first shown: its newest start (one run asked
for, not a listing); runs older than that are remembered quietly when met. Requests are
bounded: after a look the follower pauses at least as long as its requests take at
REQUESTS_PER_SECOND. A page shown again is caught up by the next look, at once: the runs that
started or stopped meanwhile are found the same way. (A run's page reads its own run again
while it runs: it asks the follower for nothing.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..entities import Metric, Run
from ..follow.changes import Shown, StoreChanges
from ..traces import TraceInfo
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
#: A full listing of a shown experiment's runs (deleted runs, a tag set on a finished run)
#: this often at most: its cost grows with its runs (10,000 runs are 35 MB of JSON and seconds
#: of the server's time). Each listing that finds nothing new doubles the pause, up to the max.
FULL_LISTING_SECONDS = 120.0
FULL_LISTING_MAX_SECONDS = 960.0
#: History requests per second at most, however many runs log at once.
HISTORY_REQUESTS_PER_SECOND = 4.0
#: The follower's requests per second at most, over a look and the pause after it.
REQUESTS_PER_SECOND = 4.0
#: The newest traces compared at each look (a new trace comes first; one finishing is recent).
TRACE_WINDOW = 100

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


def trace_signature(info: TraceInfo) -> tuple[Any, ...]:
    return (
        info.trace_id,
        info.state,
        info.execution_duration,
        tuple(sorted(info.tags.items())),
        info.assessments_count,
    )


class ServerFollower:
    """Polls one ServerStore and reports its changes to a callback, from a background thread.

    The same surface as `store.follow.StoreFollower` (start, show, wait_ready, stop, running,
    mode, notice)."""

    #: Only what `show` named is looked at.
    shown_only = True

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
        #: Looks taken so far (tests wait for a number of them).
        self.looks = 0
        self._callback: Callable[[StoreChanges], Any] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        #: Set when what is shown changed: look at once.
        self._wake = threading.Event()
        self._lock = threading.Lock()
        #: None: everything (nobody said what is shown).
        self._shown: Shown | None = None
        self._experiments: dict[str, tuple] = {}
        self._runs: dict[str, RunSignature] = {}
        self._latest: dict[str, dict[str, tuple[int, int, float]]] = {}
        self._experiment_of: dict[str, str] = {}
        self._running: set[str] = set()
        self._seen_points: dict[tuple[str, str], int] = {}
        #: The latest point of a charted metric when its history was last read.
        self._history_mark: dict[tuple[str, str], tuple[int, int, float]] = {}
        #: Per experiment taken in: the newest start seen (ms); "" for all experiments.
        self._newest: dict[str, int] = {}
        #: Per experiment taken in: when its runs were last listed in full (`clock`), and the
        #: pause until the next full listing.
        self._listed: dict[str, float] = {}
        self._listing_every: dict[str, float] = {}
        #: The experiments whose runs the last look listed (one shown again is listed sooner).
        self._runs_shown: frozenset[str] = frozenset()
        #: When full listings are due (tests drive it).
        self.clock: Callable[[], float] = time.monotonic
        self._traces: dict[str, tuple] = {}
        #: The registry at the last look (None: not looked at yet).
        self._registry: tuple | None = None
        self._failing = False
        self._last_history = 0.0

    # -- public ------------------------------------------------------------------------------
    def start(self, callback: Callable[[StoreChanges], Any]) -> None:
        if self._thread is not None:
            raise RuntimeError("this follower was already started")
        self._callback = callback
        self._thread = threading.Thread(target=self._run, name="mltui-server-follower", daemon=True)
        self._thread.start()

    def show(self, shown: Shown) -> None:
        """Look only at what `shown` names from now on; at once if it changed."""
        with self._lock:
            if shown == self._shown:
                return
            self._shown = shown
        self._wake.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        interval = self.poll_seconds
        client = self.store.client
        while not self._stop.is_set():
            self._wake.clear()
            started, requests = time.monotonic(), client.thread_requests()
            changes = self._look()
            self.looks += 1
            self._ready.set()
            if changes is None:
                interval = FAILING_POLL_SECONDS
            elif changes:
                self._emit(changes)
                interval = self.poll_seconds
            else:
                interval = min(interval * BACKOFF_FACTOR, MAX_POLL_SECONDS)
            # However often the pages change, the server sees at most REQUESTS_PER_SECOND.
            earliest = started + (client.thread_requests() - requests) / REQUESTS_PER_SECOND
            woken = self._wake.wait(interval)
            rest = earliest - time.monotonic()
            if rest > 0:
                self._stop.wait(rest)
            if woken:
                interval = self.poll_seconds

    def _look(self) -> StoreChanges | None:
        """One poll; None when it failed (said once, until the server answers again)."""
        with self._lock:
            shown = self._shown
        try:
            changes = self._poll(shown)
        except ServerError as exc:
            if not self._failing:
                self._failing = True
                self._emit(StoreChanges(notices=[f"live updates paused: {exc}"]))
            return None
        except Exception:
            log.exception("server follower poll failed")
            return None
        if self._failing:
            self._failing = False
            changes.notices.append("live updates resumed: the server answers again.")
        return changes

    def _emit(self, changes: StoreChanges) -> None:
        if self._callback is not None and not self._stop.is_set():
            self._callback(changes)

    # -- what changed --------------------------------------------------------------------------
    def _poll(self, shown: Shown | None) -> StoreChanges:
        changes = StoreChanges()
        everything = shown is None
        if shown is None or shown.experiments:
            active = self._check_experiments(changes)
            if shown is not None:
                self._new_runs_anywhere(active, changes)
        if shown is None:
            shown = Shown(experiments=True, runs_of=frozenset(active))
        histories = shown.histories

        def wants_history(run_id: str, key: str) -> bool:
            return everything or (run_id, key) in histories

        for exp_id in shown.runs_of - self._runs_shown:
            self._listing_every.pop(exp_id, None)  # shown again: listed in full sooner
        self._runs_shown = shown.runs_of
        if shown.runs_of:
            self._poll_experiments(sorted(shown.runs_of), changes, wants_history)
        lone = [r for r in shown.runs if self._experiment_of.get(r) not in shown.runs_of]
        self._poll_runs(lone, changes, wants_history)
        if shown.traces_of:
            self._poll_traces(sorted(shown.traces_of), changes)
        if shown.registry:
            self._poll_registry(changes)
        return changes

    def _poll_registry(self, changes: StoreChanges) -> None:
        """The registry as its pages show it, compared with the last look's. The first look
        reports a change too: the page on top read the registry before it (a model MLflow
        wrote in between would otherwise never be shown)."""
        sig = self.store.registry_signature()
        if sig != self._registry:
            changes.registry = True
        self._registry = sig

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

    def _since_ms(self) -> int | None:
        """The first look reports what changed since `since_ns`; later ones, only from then."""
        if self.since_ns is None or self._ready.is_set():
            return None
        return self.since_ns // 1_000_000

    def _newest_start(self, ids: list[str]) -> int:
        """The newest start among these experiments' runs: one run asked for, not a listing."""
        since = self._since_ms()
        if since is not None:
            return since
        runs = self.store.newest_runs(ids, 1)
        return max((r.start_time or 0 for r in runs), default=0)

    def _new_runs_anywhere(self, active: list[str], changes: StoreChanges) -> None:
        """For the experiments list: runs started since the newest seen, in any experiment."""
        if "" not in self._newest:
            self._newest[""] = self._newest_start(active)
            return
        newest = self._newest[""]
        for run in self.store.search_runs(active, f"attributes.start_time >= {newest}"):
            self._newest[""] = max(self._newest[""], run.start_time or 0)
            if run.run_id not in self._runs:
                changes.run_changed(run.run_id)
            self._remember(run)

    def _take_in(self, exp_ids: list[str]) -> None:
        """Start following these experiments' runs from each one's newest start: runs started
        before it are taken in quietly when met (running ones at the same look)."""
        for exp_id in exp_ids:
            self._newest[exp_id] = self._newest_start([exp_id])
            self._listed[exp_id] = self.clock()

    def _poll_experiments(
        self, exp_ids: list[str], changes: StoreChanges, wants: Callable[[str, str], bool]
    ) -> None:
        new = [e for e in exp_ids if e not in self._newest]
        if new:
            self._take_in(new)
        store = self.store
        runs = store.search_runs(exp_ids, "attributes.status = 'RUNNING'")
        newest = min(self._newest[e] for e in exp_ids)
        runs += store.search_runs(exp_ids, f"attributes.start_time >= {newest}")
        wanted = set(exp_ids)
        listed = {r.run_id for r in runs}
        stopped = [r for r in self._running - listed if self._experiment_of.get(r) in wanted]
        runs += [run for run in map(store.run, stopped) if run is not None]
        for run in runs:
            quiet = run.run_id not in self._runs and (run.start_time or 0) < self._newest.get(
                run.experiment_id, 0
            )
            self._compare(run, changes, wants, quiet=quiet)
            if run.experiment_id in self._newest:
                self._newest[run.experiment_id] = max(
                    self._newest[run.experiment_id], run.start_time or 0
                )
        # After the searches: a run new since the last look is reported by them, not taken
        # in quietly here.
        now = self.clock()
        due = [
            e
            for e in exp_ids
            if now - self._listed[e] >= self._listing_every.get(e, FULL_LISTING_SECONDS)
        ]
        if due:
            self._full_listing(due, changes, wants)

    def _full_listing(
        self, exp_ids: list[str], changes: StoreChanges, wants: Callable[[str, str], bool]
    ) -> None:
        runs = self.store.runs(exp_ids, include_deleted=False)
        listed = {r.run_id for r in runs}
        wanted = set(exp_ids)
        reported = changes.runs | changes.deleted_runs  # by this look's cheaper searches
        found: set[str] = set()  # the experiments where only this listing found a change
        for run_id, exp_id in list(self._experiment_of.items()):
            if exp_id in wanted and run_id not in listed and run_id in self._runs:
                self._forget(run_id)
                changes.run_deleted(run_id)
                found.add(exp_id)
        for run in runs:
            self._compare(run, changes, wants, quiet=run.run_id not in self._runs)
        found.update(self._experiment_of.get(r, "") for r in changes.runs - reported)
        now = self.clock()
        for exp_id in exp_ids:
            self._listed[exp_id] = now
            every = self._listing_every.get(exp_id, FULL_LISTING_SECONDS)
            self._listing_every[exp_id] = (
                FULL_LISTING_SECONDS
                if exp_id in found
                else min(every * 2, FULL_LISTING_MAX_SECONDS)
            )

    def _poll_runs(
        self, run_ids: Iterable[str], changes: StoreChanges, wants: Callable[[str, str], bool]
    ) -> None:
        """Runs shown on their own: those still running (or not seen yet), one `runs/get` each."""
        for run_id in run_ids:
            known = run_id in self._runs
            if known and run_id not in self._running:
                continue
            run = self.store.run(run_id)
            if run is None:
                if known:
                    self._forget(run_id)
                    changes.run_deleted(run_id)
                continue
            self._compare(run, changes, wants, quiet=not known)

    def _poll_traces(self, exp_ids: list[str], changes: StoreChanges) -> None:
        """The newest traces of these experiments, compared with the last look's."""
        infos = self.store.newest_traces(exp_ids, TRACE_WINDOW)
        for exp_id in exp_ids:
            sig = tuple(trace_signature(t) for t in infos if t.experiment_id == exp_id)
            if exp_id in self._traces and self._traces[exp_id] != sig:
                changes.traces.add(exp_id)
            self._traces[exp_id] = sig

    def _remember(self, run: Run) -> None:
        self._runs[run.run_id] = signature(run)
        self._latest[run.run_id] = latest(run)
        self._experiment_of[run.run_id] = run.experiment_id
        if run.is_running:
            self._running.add(run.run_id)
        else:
            self._running.discard(run.run_id)

    def _forget(self, run_id: str) -> None:
        self._runs.pop(run_id, None)
        self._latest.pop(run_id, None)
        self._experiment_of.pop(run_id, None)
        self._running.discard(run_id)

    def _compare(
        self,
        run: Run,
        changes: StoreChanges,
        wants: Callable[[str, str], bool],
        *,
        quiet: bool = False,
    ) -> None:
        """Report how `run` differs from the last look; `quiet`: only remember it (first seen,
        not new)."""
        run_id = run.run_id
        before = self._runs.get(run_id)
        old_latest = self._latest.get(run_id, {})
        if run.lifecycle_stage == "deleted":
            if before is not None:
                self._forget(run_id)
                changes.run_deleted(run_id)
            return
        if quiet:
            self._remember(run)
            return
        if before != signature(run):
            changes.run_changed(run_id)
        for key, point in latest(run).items():
            if old_latest.get(key) != point:
                changes.run_changed(run_id)
            if before is None or not wants(run_id, key):
                continue
            # Charted: the points since the history was last read, or since the last look.
            previous = self._history_mark.get((run_id, key), old_latest.get(key))
            if previous != point:
                changes.add_points(run_id, key, self._new_points(run_id, key, previous))
                self._history_mark[(run_id, key)] = point
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
