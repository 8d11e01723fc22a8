"""Following an MLflow SQLite database: rows past the last seen rowids, and the runs that may change.

The database file and its `-wal` are watched; a change re-reads only rows past the last seen
`rowid` of `metrics`, `runs`, `tags`, `params`, the runs that were RUNNING (whose status and end
time change), the trace tables' new rows and the traces IN_PROGRESS (for `StoreChanges.traces`)
and, at most every couple of seconds, the run states and trace counts (to see deletions). A
tag rewritten in place changes no rowid or run state: the tags of the runs on show are compared
(`ShownTags`, at most every SHOWN_TAGS_SECONDS while the database changes). Rows carry no time,
so with `since_ns` the baseline compares with the state the store's first read recorded
(`SqliteStore.opened_state`). The loop around it is store/follow/follower.py's.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..entities import DELETED, LIVE_STATUSES, Metric
from ..errors import StoreError
from ..follow.backend import EVENT_GRACE_NS, FollowerBackend, one_line, stat_sig
from ..follow.changes import Shown, StoreChanges

if TYPE_CHECKING:
    from ..base import Store

#: MLflow 3's trace tables: a new row (by rowid) marks its experiment's traces changed. Each
#: query gives (rowid, experiment id) of the rows in a rowid range; tags and assessments name
#: their trace only.
TRACE_ROWS_SQL = {
    "trace_info": "SELECT rowid, experiment_id FROM trace_info WHERE rowid > ? AND rowid <= ?",
    "trace_tags": "SELECT g.rowid, t.experiment_id FROM trace_tags g JOIN trace_info t "
    "ON t.request_id = g.request_id WHERE g.rowid > ? AND g.rowid <= ?",
    "assessments": "SELECT a.rowid, t.experiment_id FROM assessments a JOIN trace_info t "
    "ON t.request_id = a.trace_id WHERE a.rowid > ? AND a.rowid <= ?",
    "spans": "SELECT rowid, experiment_id FROM spans WHERE rowid > ? AND rowid <= ?",
}
#: Tables whose new rows following finds by rowid (this module).
FOLLOWED_TABLES = ("metrics", "runs", "tags", "params", "experiment_tags", *TRACE_ROWS_SQL)
#: A trace being written: its state and duration are updated in place when it ends.
TRACE_IN_PROGRESS = "IN_PROGRESS"
#: Above any rowid: the open end of a TRACE_ROWS_SQL range.
ROWID_END = 2**63 - 1


@dataclass(slots=True)
class FollowState:
    """What following compares against: the marks read in one transaction (`follow_marks`),
    the runs' states after (`fill_run_states`)."""

    #: The largest rowid of each of FOLLOWED_TABLES (0: empty or absent).
    max_rowid: dict[str, int]
    #: run id -> (experiment_id, name, status, end_time, lifecycle_stage, deleted_time), for
    #: the runs up to max_rowid["runs"]
    runs: dict[str, tuple]
    #: experiment id -> (name, artifact_location, lifecycle_stage, last_update_time)
    experiments: dict[str, tuple]
    #: A hash of each live run's tags: `set_tag` on an existing key updates its row in place.
    live_tags: dict[str, int]
    #: A hash of the registry tables' rows.
    registry: int


#: The runs on show have their tags compared at most this often while the database changes: a
#: look hashes every tag of the experiment shown (tests/bench/bench_shown_tags.py: 2,474 runs,
#: 20,000 tags: 14 ms on SQLite on quiet cores, 23-77 ms and 29-83 ms on PostgreSQL on busy ones).
SHOWN_TAGS_SECONDS = 1.0
#: What `ShownTags` compares: (experiments whose runs are listed, runs whose tags are shown).
TagScope = tuple[frozenset[str], frozenset[str]]
NO_TAGS: TagScope = (frozenset(), frozenset())


class ShownTags:
    """The tags of the runs on show (`Shown.runs_of`, `Shown.tags_of`), compared look by look
    by a database's follower: `set_tag` on a key a run has rewrites its row in place, which no
    new rowid, run state or time shows. Only what the pages on show name is compared, so a
    hidden page costs nothing. A look is one query (`tag_signatures`, store/sqlite/
    follow_state.py), taken only when the database's version changed since the last (another
    connection committed) and at most every SHOWN_TAGS_SECONDS."""

    def __init__(self) -> None:
        #: Set from the app's thread (`show`), read by the follower's: replaced whole.
        self.shown = Shown()
        #: The scope the last look covered, and its signatures.
        self.scope = NO_TAGS
        self.sigs: dict[str, int] = {}
        #: The database's version at the last look (SQLite: `PRAGMA data_version`; PostgreSQL:
        #: the transaction snapshot), and when (monotonic) the next may be.
        self.version: object = None
        self.next_look = 0.0

    def due(self, scope: TagScope, version: object, now: float) -> bool:
        """Whether a look at `now` takes the signatures of `scope`."""
        if scope != self.scope:
            return True  # recorded at once, and compared with the pages' readings
        return any(scope) and version != self.version and now >= self.next_look

    def pending(self, version: object) -> float | None:
        """When (monotonic) to look again: the database changed within SHOWN_TAGS_SECONDS."""
        return self.next_look if any(self.scope) and version != self.version else None

    def wanted(self) -> TagScope:
        return self.shown.runs_of, self.shown.tags_of

    def show(self, shown: Shown) -> bool:
        """Take what is on show; True when the scope changed (look at once, to record it)."""
        was = self.wanted()
        self.shown = shown
        return self.wanted() != was

    def compare(
        self,
        store: Any,
        looked: tuple[TagScope, object, float, dict[str, int]],
        runs: dict[str, tuple],
        out: StoreChanges,
    ) -> None:
        """Report the runs (`runs`: run id -> state) whose tags changed since the last look;
        `looked`: the scope, the version, the time and the signatures of this one.
        A new scope's runs were not compared while hidden: they are compared with what their
        latest reading returned (`retagged_runs`), which also covers a rewrite between a
        page's reading and this look."""
        scope, self.version, now, sigs = looked
        self.next_look = now + SHOWN_TAGS_SECONDS
        if scope == self.scope:
            changed = {r for r in sigs.keys() | self.sigs.keys() if sigs.get(r) != self.sigs.get(r)}
        else:
            try:
                changed = store.retagged_runs(sigs.keys() | scope[1])
            except StoreError:
                changed = set()  # locked for long: the pages' own readings are this new
        self.scope, self.sigs = scope, sigs
        for rid in changed:
            state = runs.get(rid)
            if state is not None and state[4] != DELETED:  # else the run is reported deleted
                out.run_changed(rid)


#: SQLite: the whole `runs` table is compared (for deletions) at most this often.
SQLITE_FULL_DIFF_SECONDS = 2.0


class SqliteFollower(FollowerBackend):
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
        #: Traces IN_PROGRESS: request id -> (experiment id, state, duration), looked at again
        #: each time; and each experiment's trace count, compared in the full comparison (a
        #: trace deleted).
        self.open_traces: dict[str, tuple] = {}
        self.trace_counts: dict[str, int] = {}
        self.next_full = 0.0
        self.full_pending = False
        self.failures = 0
        self.retry_at: float | None = None
        #: Events arrived since the last verify scan; that scan found a change with none.
        self.evented = False
        self.suspect = False
        self._registry_read: tuple[tuple, object] | None = None
        self.shown_tags = ShownTags()

    def show(self, shown: Shown) -> bool:
        return self.shown_tags.show(shown)

    def relevant(self, path: str) -> bool:
        return path in self._names

    def registry_sig(self) -> object:
        """The registry tables' rows, hashed; read again only when the database changed."""
        sig = self._file_sig()  # before reading: a commit during the read shows next time
        if self._registry_read is not None and self._registry_read[0] == sig:
            return self._registry_read[1]
        value = self.store.read(self.store.registry_hash)
        self._registry_read = (sig, value)
        return value

    def gone(self) -> bool:
        sig = stat_sig(self.path)
        return sig is None or (self.ino is not None and sig[2] != self.ino)

    def gone_notice(self) -> str:
        return f"{self.where} is gone (deleted, moved or replaced); showing what was read before."

    def back(self) -> bool:
        return os.path.exists(self.path)

    def back_notice(self) -> str:
        return f"{self.where} is back; reopen it to follow it again."

    def _file_sig(self) -> tuple:
        return (stat_sig(self.path), stat_sig(self.path + "-wal"))

    def baseline(self, since_ns: int | None = None) -> StoreChanges:
        """Given `since_ns`, the first change set is what changed since the store's first read
        (`opened_state`): rows carry no time of change, but that read recorded the state
        (and each run's reading its tags, `tags_read`)."""
        st = os.stat(self.path)
        self.ino = st.st_ino
        self.last_sig = self._file_sig()
        store = self.store
        opened = store.opened_state if since_ns is not None else None
        scope = self.shown_tags.wanted()

        def read(conn):
            now = store.follow_marks(conn)
            touched = self._touched(conn, opened.max_rowid, now.max_rowid) if opened else {}
            tags = data_version(conn), store.tag_signatures(conn, *scope)
            return now, touched, self._open_traces(conn, 0), self._trace_counts(conn), tags

        now, touched, self.open_traces, self.trace_counts, tags = store.read(read)
        # Recorded, not compared: `retagged_runs` below (since_ns) covers the runs read before.
        self.shown_tags.scope, (self.shown_tags.version, self.shown_tags.sigs) = scope, tags
        store.fill_run_states(now)
        if opened is not None:
            # A tag rewritten in place since it was read: as a run with a tag row added.
            touched.setdefault("tags", set()).update(store.retagged_runs())
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
            if t in TRACE_ROWS_SQL:
                touched[t] = self._trace_rows(conn, t, since.get(t, 0), until[t])[1]
            elif t != "runs" and self.store.has(t) and until[t] > since.get(t, 0):
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
                report_run(rid, state, out)
        for rid in opened.runs.keys() - now.runs.keys():
            out.run_deleted(rid)
        for t in ("metrics", "tags", "params"):
            for rid in touched.get(t, ()):
                current = now.runs.get(rid)
                if current is not None and current[4] != DELETED:
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
            current = now.experiments.get(eid)
            if current is not None and current[2] != DELETED:
                out.experiment_changed(eid)
        for t in TRACE_ROWS_SQL:
            out.traces.update(touched.get(t, ()))
        return out

    def _trace_rows(self, conn, table: str, after: int, upto: int) -> tuple[int, set[str]]:
        """The largest rowid of `table` in (after, upto], and the experiments of those rows."""
        if not self.store.has(table) or not self.store.has("trace_info") or upto <= after:
            return after, set()
        rows = conn.execute(TRACE_ROWS_SQL[table], (after, upto)).fetchall()
        return max((r[0] for r in rows), default=after), {str(r[1]) for r in rows}

    def _open_traces(self, conn, after: int, ids: Sequence[str] = ()) -> dict[str, tuple]:
        """trace id -> (experiment, state, duration) of `ids` and of the traces past rowid
        `after` that are IN_PROGRESS (their state and duration change when they end)."""
        if not self.store.has("trace_info"):
            return {}
        cols = "request_id, experiment_id, status, execution_time_ms FROM trace_info"
        rows = conn.execute(
            f"SELECT {cols} WHERE rowid > ? AND status = ?", (after, TRACE_IN_PROGRESS)
        ).fetchall()
        for part, marks in self.store.id_chunks(list(ids)):
            rows += conn.execute(f"SELECT {cols} WHERE request_id IN ({marks})", part).fetchall()
        return {r[0]: (str(r[1]), r[2], r[3]) for r in rows}

    def _trace_counts(self, conn) -> dict[str, int]:
        if not self.store.has("trace_info"):
            return {}
        sql = "SELECT experiment_id, count(*) FROM trace_info GROUP BY experiment_id"
        return {str(eid): n for eid, n in conn.execute(sql)}

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
        c = store.col
        maxes = dict(self.max_rowid)
        live_ids = list(self.live)
        open_ids = list(self.open_traces)
        tag_scope = self.shown_tags.wanted()

        def read(conn):
            got: dict[str, Any] = {}
            if store.has("metrics"):
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
            for part, marks in store.id_chunks(live_ids):
                live_rows += conn.execute(
                    f"SELECT {run_cols} FROM runs WHERE run_uuid IN ({marks})", part
                ).fetchall()
            got["live"] = live_rows
            for t in ("tags", "params", "experiment_tags"):
                if store.has(t):
                    col = "experiment_id" if t == "experiment_tags" else "run_uuid"
                    got[t] = conn.execute(
                        f"SELECT rowid, {col} FROM {t} WHERE rowid > ?", (maxes[t],)
                    ).fetchall()
            got["exps"] = conn.execute(exp_sql).fetchall()
            got["traces"] = {
                t: self._trace_rows(conn, t, maxes[t], ROWID_END) for t in TRACE_ROWS_SQL
            }
            got["open_traces"] = self._open_traces(conn, maxes["trace_info"], open_ids)
            if full:
                got["all_runs"] = conn.execute(f"SELECT {run_cols} FROM runs").fetchall()
                got["trace_counts"] = self._trace_counts(conn)
            new_live = {r[1] for r in got["new_runs"] if r[4] in LIVE_STATUSES}
            got["tags_hash"] = store.live_tags(conn, set(live_ids) | new_live)
            # The version read in this transaction: equal only if no other connection
            # committed since the last look (the files' times are too coarse to tell).
            got["version"] = version = data_version(conn)
            if self.shown_tags.due(tag_scope, version, now):
                tags = store.tag_signatures(conn, *tag_scope)
                got["shown_tags"] = (tag_scope, version, now, tags)
            return got

        try:
            got = store.read(read)
        except StoreError as exc:
            # Locked by a long write, most likely: nothing advanced, so try again shortly.
            self.failures += 1
            if self.failures == 3:
                out.notices.append(f"live updates are waiting: {one_line(exc)}")
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
            report_run(rid, state, out)
            if state[2] in LIVE_STATUSES:
                self.live[rid] = (state, tags_hash.get(rid))
        seen_live = set()
        for row in got["live"]:
            rid, state = row[0], row[1:]
            seen_live.add(rid)
            old_state, old_tags = self.live.get(rid, (None, None))
            new_tags = tags_hash.get(rid)
            if state != old_state or new_tags != old_tags:
                report_run(rid, state, out)
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
        report_experiments(self.exps, exps, out)
        self.exps = exps
        self._report_traces(got, maxes, out)
        self.max_rowid = maxes
        retry = None
        if full:
            self._full_comparison(got, now, out)
        else:  # a finished run deleted or renamed shows only in the full comparison: soon
            self.full_pending = True
            retry = self.next_full
        if "shown_tags" in got:
            self.shown_tags.compare(store, got["shown_tags"], self.run_states, out)
        tags_retry = self.shown_tags.pending(got["version"])
        if tags_retry is not None:
            retry = tags_retry if retry is None else min(retry, tags_retry)
        return retry

    def _full_comparison(self, got: dict[str, Any], now: float, out: StoreChanges) -> None:
        """Every run's state against the last: deleted, renamed and resumed runs."""
        self.next_full = now + SQLITE_FULL_DIFF_SECONDS
        self.full_pending = False
        states = {r[0]: r[1:] for r in got["all_runs"]}
        for rid, state in states.items():
            if self.run_states.get(rid) != state:
                report_run(rid, state, out)
                if state[2] in LIVE_STATUSES and rid not in self.live:
                    self.live[rid] = (state, None)  # resumed: follow its status again
        for rid in self.run_states:
            if rid not in states:
                out.run_deleted(rid)
                self.live.pop(rid, None)
        self.run_states = states

    def _report_traces(self, got: dict[str, Any], maxes: dict[str, int], out: StoreChanges) -> None:
        """Experiments with trace rows added, an open trace ended or gone, or (full) a trace
        count changed (a trace deleted); traces IN_PROGRESS are followed until they end."""
        for t, (last, exp_ids) in got["traces"].items():
            maxes[t] = last
            out.traces.update(exp_ids)
        for trace_id, was in self.open_traces.items():
            if got["open_traces"].get(trace_id) != was:
                out.traces.add(was[0])
        self.open_traces = {
            i: v for i, v in got["open_traces"].items() if v[1] == TRACE_IN_PROGRESS
        }
        counts = got.get("trace_counts")
        if counts is not None:
            out.traces.update(
                e
                for e in counts.keys() | self.trace_counts.keys()
                if counts.get(e) != self.trace_counts.get(e)
            )
            self.trace_counts = counts


def data_version(conn: Any) -> int:
    """SQLite's count of other connections' commits, as this read transaction sees it."""
    return conn.execute("PRAGMA data_version").fetchone()[0]


def report_run(run_id: str, state: tuple, out: StoreChanges) -> None:
    """A run whose state (`FollowState.runs`) differs: deleted, or to read again."""
    # state: (experiment_id, name, status, end_time, lifecycle_stage, deleted_time)
    if state[4] == DELETED:
        out.run_deleted(run_id)
    else:
        out.run_changed(run_id)


def report_experiments(was: dict[str, tuple], now: dict[str, tuple], out: StoreChanges) -> None:
    """Experiments whose state (name, location, lifecycle stage, ...) differs between two looks."""
    for eid, state in now.items():
        if was.get(eid) != state:
            if state[2] == DELETED:
                out.experiment_deleted(eid)
            else:
                out.experiment_changed(eid)
    for eid in was.keys() - now.keys():
        out.experiment_deleted(eid)
