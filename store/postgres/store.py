"""An MLflow tracking database on PostgreSQL, read directly (`mltui postgresql://...`).

The reading is the one SqliteStore is built from (`SqlReader`, store/sqlite/reader.py): the
same queries over the same tables, which MLflow's alembic migrations make alike on both
databases. What differs is below: the connection (psycopg 3, read-only, one REPEATABLE READ
snapshot per read transaction, kept short as the SQLite reader keeps them), the schema
introspection (information_schema for PRAGMA and sqlite_master), the SQL dialect
(store/postgres/dialect.py), errors, and where artifacts are.
The model registry is written through a connection of its own (`writing`;
store/postgres/registry.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import local_path_of, resolve_artifact_root
from ..base import ArtifactRoot
from ..entities import Run
from ..errors import StoreError
from ..registry.backend import RegistryBackend
from ..sqlite.reader import SqlReader
from ..sqlite.registry import BUSY_TIMEOUT
from .connect import DatabaseUnreachable, connect, display_uri
from .dialect import Dialect
from .follower import POLL_SECONDS, PolledDatabaseFollower
from .registry import PostgresRegistryBackend

if TYPE_CHECKING:
    from ..follow import Follower, FollowerBackend


class PostgresStore(SqlReader):
    """An MLflow database on a PostgreSQL server, read as MLflow's SQLAlchemy store reads it."""

    kind = "postgres"

    @property
    def folder(self) -> Path | None:
        return None  # a database on a server: no folder of its own here

    database_kind = "PostgreSQL"
    #: The series cache keys histories by a database file's state; a server has no such file.
    use_cache = False
    #: Each UPDATE writes a new row version with a new transaction id (`xmin`), so a tag
    #: rewritten in place changes the sum; a deleted tag, the count. No value crosses the wire.
    TAG_SIGNATURE = "count(*), sum(xmin::text::bigint)"

    def __init__(self, uri: str) -> None:
        # The URI without its password: what messages and the UI show.
        super().__init__(display_uri(uri), Path.cwd(), busy_timeout=0.0)
        self._uri = uri
        self._conn: Any = None  # a psycopg connection
        self._write_conn: Any = None  # the registry writer's psycopg connection
        self._write_lock = threading.Lock()
        self._experiment_roots: dict[str, str | None] = {}
        try:
            self.read_schema()
        except BaseException:
            self.close()
            raise

    # -- following and writing ---------------------------------------------------------------
    def follower(
        self,
        *,
        poll_seconds: float | None = None,
        max_rate_hz: float = 4,
        since_ns: int | None = None,
    ) -> Follower:
        """A database server raises no file event: it is always polled, gently by default."""
        return super().follower(
            poll_seconds=poll_seconds or POLL_SECONDS, max_rate_hz=max_rate_hz, since_ns=since_ns
        )

    def change_source(self) -> FollowerBackend:
        return PolledDatabaseFollower(self)

    def registry_backend(
        self, *, busy_timeout: float | None = None, workspace: str | None = None
    ) -> RegistryBackend:
        timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        return PostgresRegistryBackend(self, timeout, workspace)

    @contextmanager
    def writing(self) -> Iterator[Any]:
        """The connection registry writes go through (autocommit: the writer begins and ends
        its transactions), one write at a time; connected on the first write, and again after
        the server dropped it."""
        with self._write_lock:
            if self.closing.is_set():
                raise StoreError(f"{self.location} is closed")
            conn = self._write_conn
            if conn is None or conn.closed or conn.broken:
                self._write_conn = conn = connect(self._uri, read_only=False)
            yield conn

    # -- connection --------------------------------------------------------------------------
    def close(self) -> None:
        super().close()
        with self.read_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        with self._write_lock:
            if self._write_conn is not None:
                self._write_conn.close()
                self._write_conn = None

    def _connection(self):
        if self.closing.is_set():
            raise StoreError(f"{self.location} is closed")
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self._conn = None  # the server went away: connect again
        if self._conn is None:
            self._conn = connect(self._uri)
        return self._conn

    def _error(self, exc: Exception) -> StoreError:
        """One sentence for an error met while reading (connecting says its own)."""
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            return DatabaseUnreachable(
                f"lost the connection to {self.location} ({first}); the next read connects again"
            )
        return StoreError(f"cannot read {self.location}: {first}")

    # The shared reading uses only `execute` of the connection a snapshot gives, which Dialect
    # provides over psycopg.
    @contextmanager
    def snapshot(self) -> Iterator[Dialect]:
        """One read-only transaction: the queries inside it see one state of the database."""
        import psycopg

        with self.read_lock:
            try:
                conn = self._connection()
                with conn.transaction():
                    yield Dialect(conn)
            except psycopg.Error as exc:
                raise self._error(exc) from None

    def read_schema(self) -> None:
        def read(conn: Dialect):
            columns: dict[str, set[str]] = {}
            for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()"
            ):
                columns.setdefault(table, set()).add(column)
            revisions = workspaces = []
            if "version_num" in columns.get("alembic_version", ()):
                revisions = [r for (r,) in conn.execute("SELECT version_num FROM alembic_version")]
            if "workspace" in columns.get("experiments", ()):
                sql = "SELECT DISTINCT workspace FROM experiments"
                workspaces = [w for (w,) in conn.execute(sql)]
            return {t: frozenset(c) for t, c in columns.items()}, revisions, workspaces

        self.columns, revisions, workspaces = self.read(read)
        self.check_schema(self.columns, revisions, workspaces)

    def series_job(self, run_id: str, key: str) -> tuple | None:
        return None  # read here: worker processes would each open a connection of their own

    # -- artifacts ---------------------------------------------------------------------------
    def artifact_root(self, run: Run) -> ArtifactRoot:
        """A run's artifact folder when this machine sees it (a shared disk), inside its
        experiment's artifact location; a remote or absent one is named, not fetched."""
        base = self._experiment_root(run.experiment_id)
        root = resolve_artifact_root(run.artifact_uri, base or self.store_root)
        if root.path is None and root.note and root.recorded.startswith("mlflow-artifacts:"):
            root.note = (
                f"artifacts are served by a tracking server ({root.recorded}); open the "
                "server's URL to browse them"
            )
        return root

    def _experiment_root(self, experiment_id: str) -> Path | None:
        """The local folder of an experiment's artifact location, if it is one."""
        if experiment_id not in self._experiment_roots:
            exp = self.experiment(experiment_id)
            local = None
            if exp is not None and exp.artifact_location:
                local, _ = local_path_of(exp.artifact_location)
            self._experiment_roots[experiment_id] = local
        local = self._experiment_roots[experiment_id]
        return Path(local) if local and Path(local).is_absolute() else None
