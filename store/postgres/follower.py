"""Following an MLflow database on a PostgreSQL server: polled, as a database server raises no
file event and its tables have no rowid to find new rows by. The loop around it is
store/follow/follower.py's."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..entities import DELETED, LIVE_STATUSES
from ..errors import StoreError
from ..follow.backend import FollowerBackend, one_line
from ..follow.changes import Shown, StoreChanges
from ..sqlite.follow_state import REGISTRY_TABLES
from ..sqlite.follower import TRACE_IN_PROGRESS, ShownTags, report_experiments, report_run

if TYPE_CHECKING:
    from ..base import Store

#: How often the database is polled when --poll does not say.
POLL_SECONDS = 2.0


class PolledDatabaseFollower(FollowerBackend):
    """Follows an MLflow database on a server (PostgreSQL) by polling its state.

    No file changes to watch, and no rowid to find new rows by: each look is one read
    transaction of every run's state (new, changed and deleted runs), the live runs' point
    counts and tags (a point logged shows as its run changed, which screens read again whole),
    the experiments with their tags, a summary of each experiment's traces (`_traces`), and
    the tags of the runs on show (`ShownTags`: a tag rewritten in place changes no run state);
    the registry is compared whole (`registry_sig`).
    What changed between the store's first read and the first look is told from the times
    the rows carry (`baseline`).
    """

    recursive = False
    watch_dir = ""

    def __init__(self, store: Store) -> None:
        self.store: Any = store
        self.where = str(store.location)
        self.runs: dict[str, tuple] = {}
        self.live: dict[str, tuple] = {}
        self.exps: dict[str, tuple] = {}
        self.traces: dict[str, dict] = {}
        self.failures = 0
        self.shown_tags = ShownTags()

    def relevant(self, path: str) -> bool:
        return False

    def show(self, shown: Shown) -> bool:
        return self.shown_tags.show(shown)

    def gone(self) -> bool:
        return False  # an unreachable server is said by the failing look, not as gone

    def registry_sig(self) -> object:
        def read(conn) -> int:
            # A server returns rows in no set order: sorted, so that equal tables hash equal.
            tables = [t for t in REGISTRY_TABLES if self.store.has(t)]
            return hash(tuple(tuple(sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))))
                              for t in tables))  # fmt: skip

        return self.store.read(read)

    def baseline(self, since_ns: int | None = None) -> StoreChanges:
        """Given `since_ns`, what may have changed since then, by the times rows carry (the
        writers' clocks): runs ended, deleted or still running (their points), experiments
        updated. Registry changes from then are not told apart."""
        self.runs, self.live, self.exps, self.traces, looked = self.store.read(self._state)
        out = StoreChanges()
        if looked is not None:  # the runs on show compared with their readings
            self.shown_tags.compare(self.store, looked, self.runs, out)
        if since_ns is None:
            return out
        since_ms = since_ns // 1_000_000
        for rid, (_, _, status, end, stage, deleted) in self.runs.items():
            if stage == DELETED and (deleted or 0) >= since_ms:
                out.run_deleted(rid)
            elif stage != DELETED and (status in LIVE_STATUSES or (end or 0) >= since_ms):
                out.run_changed(rid)
        for eid, state in self.exps.items():
            if state[2] != DELETED and (state[3] or 0) >= since_ms:
                out.experiment_changed(eid)
        # Traces by their start time: a trace that ended or was tagged since is not told.
        out.traces.update(e for e, t in self.traces.items() if (t["info"][1] or 0) >= since_ms)
        return out

    def on_paths(self, paths: set[str], out: StoreChanges) -> None:
        self.scan(out, verify=False, sweep=True)

    def scan(self, out: StoreChanges, *, verify: bool, sweep: bool) -> bool:
        try:
            runs, live, exps, traces, looked = self.store.read(self._state)
        except StoreError as exc:
            self.failures += 1
            if self.failures == 3:
                out.notices.append(f"live updates are waiting: {one_line(exc)}")
            return False
        self.failures = 0
        for rid, state in runs.items():
            if self.runs.get(rid) != state or self.live.get(rid, live.get(rid)) != live.get(rid):
                report_run(rid, state, out)
        for rid in self.runs.keys() - runs.keys():
            out.run_deleted(rid)
        report_experiments(self.exps, exps, out)
        out.traces.update(e for e in traces.keys() | self.traces.keys()
                          if traces.get(e) != self.traces.get(e))  # fmt: skip
        if looked is not None:
            self.shown_tags.compare(self.store, looked, runs, out)
        self.runs, self.live, self.exps, self.traces = runs, live, exps, traces
        return False

    def _state(self, conn) -> tuple[dict, dict, dict, dict, tuple | None]:
        """(run id -> state, live run id -> (points, last time, tags), experiment id ->
        (state, tags), experiment id -> its traces' summary, the look at the tags on show
        (`_shown_tags`)), read in the caller's transaction."""
        store = self.store
        runs = {r[0]: r[1:] for r in conn.execute(f"SELECT {store.state_run_columns()} FROM runs")}
        ids = [rid for rid, state in runs.items() if state[2] in LIVE_STATUSES]
        points: dict[str, tuple] = {}
        if store.has("metrics"):
            for part, marks in store.id_chunks(ids):
                for rid, count, last in conn.execute(
                    "SELECT run_uuid, count(*), max(timestamp) FROM metrics "
                    f"WHERE run_uuid IN ({marks}) GROUP BY run_uuid",
                    part,
                ):
                    points[rid] = (count, last)
        tags = store.live_tags(conn, ids)
        live = {rid: (points.get(rid), tags.get(rid)) for rid in ids}
        exp_tags: dict[str, list] = {}
        if store.has("experiment_tags"):
            for eid, key, value in conn.execute(
                "SELECT experiment_id, key, value FROM experiment_tags"
            ):
                exp_tags.setdefault(str(eid), []).append((key, value))
        exps = {
            str(e[0]): (*e[1:], hash(tuple(sorted(exp_tags.get(str(e[0]), ())))))
            for e in conn.execute(store.state_experiments_sql())
        }
        return runs, live, exps, self._traces(conn), self._shown_tags(conn)

    def _shown_tags(self, conn) -> tuple | None:
        """The look at the tags on show (`ShownTags.compare`), or None when it is not due. The
        transaction's snapshot is the version: it changes when any transaction that writes
        (has an id) starts or ends, so an idle database costs one cheap query."""
        scope = self.shown_tags.wanted()
        if not any(scope) and not any(self.shown_tags.scope):
            return None
        version = conn.execute("SELECT txid_current_snapshot()::text").fetchone()[0]
        now = time.monotonic()
        if not self.shown_tags.due(scope, version, now):
            return None
        return scope, version, now, self.store.tag_signatures(conn, *scope)

    def _traces(self, conn) -> dict[str, dict]:
        """experiment id -> {table: summary} of its traces, which differs when a trace is
        added, ends (state, duration), is deleted, or gains a tag or an assessment (a tag or
        request metadata rewritten in place keeps the counts: not seen)."""
        store = self.store
        if not store.has("trace_info"):
            return {}
        queries = {
            "info": "SELECT experiment_id, count(*), max(timestamp_ms), sum(execution_time_ms), "
            f"sum(CASE WHEN status = '{TRACE_IN_PROGRESS}' THEN 1 ELSE 0 END) FROM trace_info "
            "GROUP BY experiment_id",
            "trace_tags": "SELECT t.experiment_id, count(*) FROM trace_tags x JOIN trace_info t "
            "ON t.request_id = x.request_id GROUP BY t.experiment_id",
            "assessments": "SELECT t.experiment_id, count(*), max(x.last_updated_timestamp) "
            "FROM assessments x JOIN trace_info t ON t.request_id = x.trace_id "
            "GROUP BY t.experiment_id",
        }
        out: dict[str, dict] = {}
        for name, sql in queries.items():
            if name == "info" or store.has(name):
                for eid, *summary in conn.execute(sql):
                    out.setdefault(str(eid), {})[name] = tuple(summary)
        return out
