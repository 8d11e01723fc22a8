"""Reading an MLflow SQLite database (`mlflow.db`) directly, for any MLflow 1.x-3.x schema.

`SqliteStore` is the public class; its reading is assembled from one module per job:
connect.py opens the database (read-only, creating no file beside it, retrying while a writer
holds a lock), runs.py reads experiments and runs, metrics.py metric histories, models.py
logged models and the model registry, follow_state.py what following compares, traces.py
MLflow 3's traces. Reads are short transactions (a full read: 100 runs each, `iter_runs`) so
that a writer in MLflow's rollback-journal mode waits for one of them at most.

What each table means, and how a reading is assembled from it, mirrors MLflow's SQLAlchemy
stores (mlflow/store/tracking/sqlalchemy_store.py and
mlflow/store/model_registry/sqlalchemy_store.py, 2.22.5 and 3.17.2), with a handful of bulk
queries in place of MLflow's per-object ORM loading.

Schemas differ by MLflow version (tables and columns added by alembic migrations), so every
column is looked up with `PRAGMA table_info` and a missing one reads as MLflow's default.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import parallel
from ..artifacts import ArtifactRoot, resolve_artifact_root
from ..entities import Run
from ..follow import FollowerBackend
from ..registry.backend import RegistryBackend
from ..traces import Trace, TraceInfo
from .connect import SqliteConnection
from .database import KNOWN_REVISIONS, int_ids
from .follow_state import REGISTRY_TABLES, FollowReading
from .follower import SqliteFollower
from .models import ModelReading
from .registry import BUSY_TIMEOUT, SqliteRegistryBackend
from .traces import read_spans, read_trace_infos

if TYPE_CHECKING:
    from ..series_cache import SeriesCache

__all__ = ["KNOWN_REVISIONS", "REGISTRY_TABLES", "SqlReader", "SqliteStore"]


class SqlReader(FollowReading, ModelReading):
    """Everything MLflow's SQL stores hold, read with SQL: the reading SqliteStore and
    PostgresStore share (each supplies its connection and schema introspection)."""

    def traces(self, experiment_ids: Iterable[str]) -> list[TraceInfo]:
        """Trace infos of these experiments, oldest first (MLflow 3 `trace_info` and friends)."""
        ids = int_ids(experiment_ids)
        if not ids or not self.has("trace_info"):
            return []
        where = f"experiment_id IN ({','.join('?' * len(ids))})"
        return self.read(
            lambda conn: read_trace_infos(conn, self.col, where, ids, self.has("assessments"))
        )

    def trace(self, trace_id: str) -> Trace | None:
        if not self.has("trace_info"):
            return None

        def read(conn: sqlite3.Connection) -> Trace | None:
            infos = read_trace_infos(
                conn, self.col, "request_id = ?", [trace_id], self.has("assessments")
            )
            if not infos:
                return None
            spans = read_spans(conn, trace_id, self.warnings.add) if self.has("spans") else []
            return Trace(infos[0], spans)

        return self.read(read)

    def traces_linked_to_run(self, run_id: str) -> set[str]:
        if not self.has("entity_associations"):
            return set()
        query = (
            "SELECT source_id FROM entity_associations WHERE source_type = 'trace'"
            " AND destination_type = 'run' AND destination_id = ?"
        )
        return self.read(lambda conn: {row[0] for row in conn.execute(query, [run_id])})


class SqliteStore(SqliteConnection, SqlReader):
    """An MLflow SQLite database, read as MLflow's SQLAlchemy store reads it; never written."""

    kind = "sqlite"

    @property
    def folder(self) -> Path | None:
        return Path(self.location).parent

    def __init__(
        self,
        db_path: Path | str,
        *,
        busy_timeout: float = 10.0,
        series_cache: SeriesCache | None = None,
    ) -> None:
        """`series_cache`: where long histories are kept, when not the user's cache folder."""
        super().__init__(db_path, busy_timeout)
        if series_cache is not None:
            self._series = series_cache
        try:
            self.read_schema()
        except BaseException:
            self.close()
            raise

    def read_schema(self) -> None:
        def read(conn: sqlite3.Connection):
            tables = [
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                ).fetchall()
            ]
            columns = {
                t: frozenset(row[1] for row in conn.execute(f'PRAGMA table_info("{t}")'))
                for t in tables
            }
            revisions = []
            if "version_num" in columns.get("alembic_version", ()):
                revisions = [r for (r,) in conn.execute("SELECT version_num FROM alembic_version")]
            workspaces = []
            if "workspace" in columns.get("experiments", ()):
                workspaces = [
                    w for (w,) in conn.execute("SELECT DISTINCT workspace FROM experiments")
                ]
            self.columns = columns  # what follow_state's queries are built from
            marks = None
            if {"runs", "experiments"} <= columns.keys():
                marks = self.follow_marks(conn)
            return columns, revisions, self._run_index(conn, "metrics", tables), workspaces, marks

        columns, revisions, self._metrics_index, workspaces, marks = self.read(read)
        self.check_schema(columns, revisions, workspaces)
        if marks is not None:
            self.fill_run_states(marks)
            self.opened_state = marks

    @staticmethod
    def _run_index(conn: sqlite3.Connection, table: str, tables: list[str]) -> str | None:
        """An index of `table` led by run_uuid, one on (run_uuid, key) preferred; else None."""
        if table not in tables:
            return None
        best, best_rank = None, 0
        for row in conn.execute(f'PRAGMA index_list("{table}")'):
            name = row[1]
            cols = [r[2] for r in conn.execute(f'PRAGMA index_info("{name}")')]
            if not cols or cols[0] != "run_uuid" or name.startswith("sqlite_autoindex"):
                continue
            rank = 2 if cols[1:2] == ["key"] else 1
            if rank > best_rank:
                best, best_rank = name, rank
        return best

    def series_job(self, run_id: str, key: str) -> tuple | None:
        """Reading this history in a worker process (store/parallel.py), or None to read it here:
        one the series cache holds, or one whose latest step says it is short."""
        cache = self._series_cache()
        variant = "no-wal" if self._wal_unseen else ""
        if cache is not None and cache.holds_query(str(self.location), str(run_id), key, variant):
            return None
        if self.col("latest_metrics", "step") != "step":
            return None
        sql = "SELECT step FROM latest_metrics WHERE run_uuid = ? AND key = ?"
        row = self.read(lambda conn: conn.execute(sql, (run_id, key)).fetchone())
        if row is None or not isinstance(row[0], int) or row[0] < parallel.MIN_JOB_STEPS:
            return None
        directory = None if cache is None else str(cache.directory)
        return sqlite_series_job, str(self.location), str(run_id), key, directory

    def change_source(self) -> FollowerBackend:
        return SqliteFollower(self)

    def registry_backend(
        self, *, busy_timeout: float | None = None, workspace: str | None = None
    ) -> RegistryBackend:
        timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        return SqliteRegistryBackend(Path(self.location), timeout, workspace)

    def artifact_root(self, run: Run) -> ArtifactRoot:
        """A run's artifact folder; relative (1.x) and moved paths are found beside the db."""
        return resolve_artifact_root(run.artifact_uri, self.store_root)


#: SQLite stores opened by this worker, by database path (opening reads the schema once).
_opened: dict[tuple[str, str | None], SqliteStore] = {}


def sqlite_series_job(db_path: str, run_id: str, key: str, cache: str | None) -> parallel.JobResult:
    """One SQLite history, read by a worker through a read-only store of its own."""
    from ..series_cache import SeriesCache

    store = _opened.get((db_path, cache))
    if store is None:
        series_cache = None if cache is None else SeriesCache(Path(cache))
        store = _opened[(db_path, cache)] = SqliteStore(db_path, series_cache=series_cache)
        store.use_cache = cache is not None
    series = store.metric_series(run_id, key)
    return parallel.as_result(series.steps, series.timestamps, series.values, None)
