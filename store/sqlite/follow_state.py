"""What following an MLflow database compares against (store/sqlite/follower.py, and the
PostgreSQL follower): the run states, the tables' largest rowids, hashes of tags and of the
registry; recorded by the first read (`opened_state`) and by the follower's baseline; and
signatures of the tags of the runs on show (`tag_signatures`, for store/sqlite/follower.py's
`ShownTags`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from functools import partial

from ..entities import ACTIVE, LIVE_STATUSES
from .database import int_ids
from .follower import FOLLOWED_TABLES, FollowState
from .runs import RunReading

#: Runs whose state following records per read transaction (`fill_run_states`): ~2 ms of CPU.
RUN_STATES_PER_TRANSACTION = 1000
#: The model registry's tables: following compares them whole (registries are small).
REGISTRY_TABLES = (
    "registered_models",
    "model_versions",
    "registered_model_tags",
    "model_version_tags",
    "registered_model_aliases",
)
#: A run's state as following compares it: what an update in place changes.
_STATE_RUN_FIELDS = ("run_uuid", "experiment_id", "name", "status", "end_time",
                     "lifecycle_stage", "deleted_time")  # fmt: skip


class FollowReading(RunReading):
    """The queries of the state following compares, in the caller's read transaction or in
    short ones of their own."""

    #: One value per run (`tag_signatures`) that changes when a tag is added, rewritten in
    #: place or deleted: SQLite's rows carry no version, so the tags themselves, joined in
    #: the database (hashed here: one string a run crosses into Python, not a tuple a tag).
    TAG_SIGNATURE = "group_concat(key || char(31) || ifnull(value, ''), char(30))"

    def state_run_columns(self) -> str:
        """The columns of a run's state as following compares it (run_uuid first)."""
        return self._run_columns(_STATE_RUN_FIELDS)

    def state_experiments_sql(self) -> str:
        """The query of every experiment's state as following compares it (id first)."""
        c = self.col
        return (
            f"SELECT experiment_id, name, {c('experiments', 'artifact_location')}, "
            f"{c('experiments', 'lifecycle_stage', repr(ACTIVE))}, "
            f"{c('experiments', 'last_update_time')} FROM experiments"
        )

    def max_rowid(self, conn: sqlite3.Connection, table: str) -> int:
        if not self.has(table):
            return 0
        return conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0

    def live_tags(self, conn: sqlite3.Connection, run_ids: Iterable[str]) -> dict[str, int]:
        """A hash of each of these runs' tags."""
        run_ids = list(run_ids)
        if not run_ids or not self.has("tags"):
            return {}
        rows: dict[str, list] = {}
        for part, marks in self.id_chunks(run_ids):
            for rid, key, value in conn.execute(
                f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({marks})", part
            ):
                rows.setdefault(rid, []).append((key, value))
        return {rid: hash(tuple(sorted(rows.get(rid, ())))) for rid in run_ids}

    def tag_signatures(
        self, conn: sqlite3.Connection, experiment_ids: Iterable[str], run_ids: Iterable[str]
    ) -> dict[str, int]:
        """run id -> a hash of its tags (`TAG_SIGNATURE`), for the runs of these experiments
        and these runs that have tags."""
        if not self.has("tags"):
            return {}
        select = f"SELECT run_uuid, {self.TAG_SIGNATURE} FROM tags WHERE run_uuid IN "
        rows: list = []
        for part, marks in self.id_chunks(int_ids(experiment_ids)):
            runs = f"(SELECT run_uuid FROM runs WHERE experiment_id IN ({marks}))"
            rows += conn.execute(f"{select}{runs} GROUP BY run_uuid", part).fetchall()
        for part, marks in self.id_chunks(sorted(run_ids)):
            rows += conn.execute(f"{select}({marks}) GROUP BY run_uuid", part).fetchall()
        return {r[0]: hash(r[1:]) for r in rows}

    def registry_hash(self, conn: sqlite3.Connection) -> int:
        tables = [t for t in REGISTRY_TABLES if self.has(t)]
        return hash(tuple(tuple(conn.execute(f'SELECT * FROM "{t}"')) for t in tables))

    def follow_marks(self, conn: sqlite3.Connection) -> FollowState:
        """The small part of the state following compares against (no runs yet), inside the
        caller's read transaction: `fill_run_states` adds the runs."""
        return FollowState(
            max_rowid={t: self.max_rowid(conn, t) for t in FOLLOWED_TABLES},
            runs={},
            experiments={
                str(e[0]): e[1:] for e in conn.execute(self.state_experiments_sql()).fetchall()
            },
            live_tags={},
            registry=self.registry_hash(conn),
        )

    def fill_run_states(self, state: FollowState) -> None:
        """Add the runs up to `state`'s max rowid, in short transactions: each run's state is
        no older than the marks, and a run changed after its read shows as changed later."""
        cols = self.state_run_columns()
        last, upto = 0, state.max_rowid["runs"]
        while last < upto:

            def read(conn: sqlite3.Connection, last: int = last):
                rows = conn.execute(
                    f"SELECT rowid, {cols} FROM runs WHERE rowid > ? AND rowid <= ? "
                    "ORDER BY rowid LIMIT ?",
                    (last, upto, RUN_STATES_PER_TRANSACTION),
                ).fetchall()
                return rows, self.live_tags(conn, [r[1] for r in rows if r[4] in LIVE_STATUSES])

            rows, tags = self.read(read)
            if not rows:
                break
            state.runs.update((r[1], r[2:]) for r in rows)
            state.live_tags.update(tags)
            last = rows[-1][0]

    def retagged_runs(self, run_ids: Iterable[str] | None = None) -> set[str]:
        """The runs read before (`tags_read`; of `run_ids` only, if given) whose tags now
        differ from that reading, in short transactions."""
        shown = dict(self.tags_read)  # readings may go on meanwhile
        ids = list(shown) if run_ids is None else [r for r in run_ids if r in shown]
        out: set[str] = set()
        sql = "SELECT run_uuid, key, value FROM tags WHERE 1"
        for start in range(0, len(ids) if self.has("tags") else 0, RUN_STATES_PER_TRANSACTION):
            part = ids[start : start + RUN_STATES_PER_TRANSACTION]
            now: dict[str, dict] = {rid: {} for rid in part}
            rows = self.read(partial(self._rows, sql=sql, column="run_uuid", ids=part))
            for rid, key, value in rows:
                now[rid][key] = value
            out.update(rid for rid in part if now[rid] != shown[rid])
        return out
