"""Reading an MLflow SQLite database (`mlflow.db`) directly, for any MLflow 1.x-3.x schema.

The database is opened read-only through a `mode=ro` URI and is never created, migrated or
written, and reading creates no file beside it (a WAL database with no `-shm`: `_open`). Reads
are short transactions (a full read: 100 runs each, `iter_runs`) so that a writer in MLflow's
rollback-journal mode waits for one of them at most, and a read meeting a writer's lock tries
again until `busy_timeout`.

What each table means, and how a reading is assembled from it, mirrors MLflow's SQLAlchemy
stores (mlflow/store/tracking/sqlalchemy_store.py and
mlflow/store/model_registry/sqlalchemy_store.py, 2.22.5 and 3.17.2), with a handful of bulk
queries in place of MLflow's per-object ORM loading.

Schemas differ by MLflow version (tables and columns added by alembic migrations), so every
column is looked up with `PRAGMA table_info` and a missing one reads as MLflow's default.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
from array import array
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from itertools import chain
from operator import itemgetter
from pathlib import Path
from urllib.parse import quote

from .. import parallel
from ..artifacts import ArtifactRoot, resolve_artifact_root
from ..base import Store
from ..entities import (
    ACTIVE,
    DELETED,
    LIVE_STATUSES,
    STAGE_DELETED_INTERNAL,
    TAG_RUN_NAME,
    Dataset,
    DatasetInput,
    Experiment,
    LoggedModel,
    LoggedModelMetric,
    Metric,
    ModelOutput,
    ModelVersion,
    RegisteredModel,
    Run,
    is_prompt,
)
from ..errors import NotAStoreError, StoreError, StoreLocked
from ..follow import FollowerBackend
from ..process import GcPause
from ..rawread import read_db_header
from ..registry.backend import RegistryBackend
from ..series import Series
from ..traces import Trace, TraceInfo
from ..values import as_text, as_time, shown
from .follower import FOLLOWED_TABLES, FollowState, SqliteFollower
from .registry import BUSY_TIMEOUT, SqliteRegistryBackend
from .traces import read_spans, read_trace_infos

SQLITE_MAGIC = b"SQLite format 3\x00"

#: Every alembic revision MLflow has shipped up to 3.18.0, oldest first
#: (mlflow/store/db_migrations/versions/). A database at another revision was written by a
#: newer MLflow: it is read by column introspection, and the registry writer refuses it.
KNOWN_REVISIONS: tuple[str, ...] = (
    "451aebb31d03", "90e64c465722", "181f10493468", "df50e92ffc5e", "7ac759974ad8",
    "89d4b8295536", "2b4d017a5e9b", "cfd24bdc0731", "0a8213491aaa", "728d730b5ebd",
    "27a6a02d2cf1", "84291f40a231", "a8c4a736bde6", "39d1c3be5f05", "c48cb773bb87",
    "bd07f7e963c5", "0c779009ac13", "cc1f77228345", "97727af70f4d", "3500859a5d39",
    "7f2a7d5fae7d", "2d6e25af4d3e", "acf3f17fdcc7", "867495a8f9d4", "5b0e9adcef9c",
    "4465047574b1", "f5a4f2784254", "0584bdc529eb", "400f98739977", "6953534de441",
    "bda7b8c39065", "cbc13b556ace", "770bee3ae1dd", "a1b2c3d4e5f6", "de4033877273",
    "1a0cddfcaa16", "534353b11cbc", "71994744cf8e", "3da73c924c2f", "bf29a5ff90ea",
    "1bd49d398cd23", "b7c8d9e0f1a2", "5d2d30f0abce", "c9d4e5f6a7b8", "2c33131f4dae",
    "d3e4f5a6b7c8", "d0e1f2a3b4c5", "c8d9e0f1a2b3", "1b5f0d9ad7c1", "e1f2a3b4c5d6",
    "76601a5f987d", "c3d6457b6d8a", "a5b4c3d2e1f0", "ae8bbe7743c9", "7d34483879f0",
    "da6fb0208061", "89d3d66ed43f", "b7e4c1a90f23", "a8b9c0d1e2f3", "c1d2e3f4a5b6",
    "c3d9e7f1a2b4", "6f8d9c3b2a1e", "1971f2d9a75b", "17e22815139b", "b7e2c1a4d9f3",
    "75868b020152", "dc11669786a5", "f4a9b2c7d1e6",
)  # fmt: skip
_KNOWN = frozenset(KNOWN_REVISIONS)

#: mlflow/entities/logged_model_status.py `LoggedModelStatus.from_int`.
_LOGGED_MODEL_STATUS = {0: "UNSPECIFIED", 1: "PENDING", 2: "READY", 3: "FAILED"}
#: How long one try to read waits inside SQLite for a writer's lock; `_read` tries again after
#: a pause (LOCK_FIRST_PAUSE, doubling up to LOCK_MAX_PAUSE) until `busy_timeout` has passed.
LOCK_ATTEMPT_SECONDS = 0.1
LOCK_FIRST_PAUSE = 0.005
LOCK_MAX_PAUSE = 0.1
#: Runs read in one read transaction by `iter_runs`: a writer in rollback-journal mode waits
#: for at most one such transaction (~2.5 ms of CPU for 100 runs of 29 rows each); smaller
#: chunks measured no shorter waits (tests/bench/bench_sqlite_lock.py).
RUNS_PER_TRANSACTION = 100
#: Runs handed over per batch by `iter_runs`.
RUN_BATCH = 1000
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
_NAN = float("nan")
_FIRST, _SECOND, _THIRD, _FOURTH = (itemgetter(i) for i in range(4))
#: The types a column holds as MLflow writes it; SQLite keeps any type anywhere, so a row with
#: another is repaired (`_repaired_row`). Checked with map(isinstance, ...), in C.
_TEXT = (str, type(None))
_TIME = (int, type(None))
_RUN_FIELDS = ("run_uuid", "experiment_id", "name", "status", "start_time", "end_time",
               "lifecycle_stage", "artifact_uri", "user_id", "deleted_time")  # fmt: skip
#: Columns every MLflow schema has; MLflow's defaults for the others a schema may lack.
_RUN_KEYS = frozenset({"run_uuid", "experiment_id"})
_RUN_DEFAULTS = {"status": "'RUNNING'", "lifecycle_stage": repr(ACTIVE)}
#: A run's state as following compares it: what an update in place changes.
_STATE_RUN_FIELDS = ("run_uuid", "experiment_id", "name", "status", "end_time",
                     "lifecycle_stage", "deleted_time")  # fmt: skip
_RUN_TYPES = ((str,), (int, str), _TEXT, _TEXT, _TIME, _TIME, _TEXT, _TEXT, _TEXT, _TIME)
_EXPERIMENT_FIELDS = ("experiment_id", "name", "artifact_location", "lifecycle_stage",
                      "creation_time", "last_update_time")  # fmt: skip
_EXPERIMENT_TYPES = ((int, str), (str,), _TEXT, _TEXT, _TIME, _TIME)


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


class SqliteStore(Store):
    """An MLflow SQLite database, read as MLflow's SQLAlchemy store reads it; never written."""

    kind = "sqlite"
    #: The database file (PostgresStore: its URI without the password, a str).
    location: Path

    @property
    def folder(self) -> Path | None:
        return Path(self.location).parent

    #: The database engine, as messages name it.
    database_kind = "SQLite"

    def __init__(self, db_path: Path | str, *, busy_timeout: float = 10.0) -> None:
        super().__init__()
        self.location = Path(db_path).absolute()
        #: MLflow 3 puts `./mlruns` beside the database; 1.x recorded paths relative to it.
        self.store_root = self.location.parent
        #: Seconds a read keeps trying while a writer holds the database's lock, in all.
        self.busy_timeout = busy_timeout
        #: The database's alembic revision (None when it has no `alembic_version` table).
        self.schema_revision: str | None = None
        #: Whether `schema_revision` is one this version of mltui knows.
        self.known_revision = False
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._closed = threading.Event()
        #: Read without locks (see `_open`), valid while the files are as `_opened_files` says.
        self._private = False
        self._opened_files: tuple = ()
        #: The connection is unix-none's, which is never closed (`_let_go`).
        self._unix_none = False
        #: Commits still only in the -wal file are not seen (see `_open_private`).
        self._wal_unseen = False
        #: The database as the first read saw it, in the same transaction: following starts
        #: from here (`StoreFollower(since_ns=store.opened_ns)`), so nothing committed between
        #: the reading on show and the start of following is lost.
        self.opened_state: FollowState | None = None
        #: run id -> the tags its latest reading returned (the Run's own dict): `set_tag` on a
        #: key a run has updates its row in place, which no rowid or run state shows, so
        #: following starts by comparing these (`retagged_runs`).
        self.tags_read: dict[str, dict[str, str]] = {}
        self._columns: dict[str, frozenset[str]] = {}
        self._metrics_index: str | None = None
        self._check_file()
        try:
            self._read_schema()
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------------------------
    def _check_file(self) -> None:
        path = self.location
        if not path.exists():
            raise NotAStoreError(f"{path} does not exist")
        if path.is_dir():
            raise NotAStoreError(f"{path} is a folder, not an SQLite database")
        try:
            header = read_db_header(str(path))
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
        if not header:
            raise NotAStoreError(f"{path} is an empty file, not an MLflow database")
        if not header.startswith(SQLITE_MAGIC):
            raise NotAStoreError(f"{path} is not an SQLite database")
        # Bytes 18-19 are the file format's write/read versions: 2 means WAL mode.
        self._wal = len(header) >= 20 and 2 in (header[18], header[19])

    def _files(self) -> tuple:
        """(mtime_ns, size, inode) of the database, its `-wal` and its `-shm`; None if absent."""
        out: list[tuple[int, int, int] | None] = []
        for suffix in ("", "-wal", "-shm"):
            try:
                st = os.stat(f"{self.location}{suffix}")
            except OSError:
                out.append(None)
            else:
                out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(out)

    def _connect(self, options: str) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                f"file:{quote(str(self.location))}?mode=ro{options}",
                uri=True,
                # Each attempt waits briefly inside SQLite; `_read` retries until busy_timeout.
                timeout=min(self.busy_timeout, LOCK_ATTEMPT_SECONDS),
                check_same_thread=False,
                isolation_level=None,
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _open(self) -> sqlite3.Connection:
        """Connect read-only, in a way that creates no file beside the database.

        A read-only connection to a WAL database creates a missing `-shm` or `-wal` and leaves
        it behind, or fails in a folder it cannot write. Every connection to a WAL database
        makes both, so with either missing no other process has it open, and we read it
        privately (with no `-wal`, immutable): SQLite's lock-free "unix-none" VFS in exclusive locking mode keeps the WAL
        index in our own memory, creates nothing and still reads the commits in the `-wal`.
        That holds while the files stay as they were; `_connection` and `_snapshot` reopen
        (normally, once a writer has made its `-shm`) and read again when they change.
        """
        self._opened_files = files = self._files()
        self._wal_unseen = False
        # With no -wal, even beside a -shm left over, a connection would create the -wal.
        self._private = self._wal and None in files[1:]
        why = f"{self.location.name} is in WAL mode with no -shm file beside it"
        if not self._private:
            conn = self._connect("")
            if not self._wal:
                return conn
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError as exc:
                conn.close()
                error = self._error(exc)
                if isinstance(error, StoreLocked):
                    raise error from exc
                # Typically a `-shm` we may not read: its WAL index is out of reach.
                self._private = True
                why = f"could not open the WAL index of {self.location.name} ({exc})"
        conn = self._open_private(files)
        if files[1] is None:
            self._note(
                f"{self.location.name} is in WAL mode with no -wal file beside it: opened it "
                "immutable so that reading creates no files; reopened normally once a writer "
                "appears"
            )
        elif not self._wal_unseen:
            self._note(
                f"{why}: read without locks so that reading creates no file (commits in its "
                "-wal included); reopened normally when its files change"
            )
        return conn

    def _open_private(self, files: tuple) -> sqlite3.Connection:
        if files[1] is None:
            # No -wal: every commit is in the database file. unix-none would create an empty
            # -wal for as long as it is open; immutable creates nothing.
            return self._connect("&immutable=1")
        try:
            conn = self._connect("&vfs=unix-none")
        except StoreError:
            # No unix-none VFS (not a Unix): immutable creates nothing but ignores the -wal.
            conn = self._connect("&immutable=1")
        else:
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")  # before the first read: no -shm
            self._unix_none = True
            return conn
        if files[1][1] > 0:
            self._wal_unseen = True
            self.warnings.add(
                f"{self.location.name}-wal holds commits that cannot be read here without "
                "creating a -shm file beside the database: they are not shown"
            )
        return conn

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _connection(self) -> sqlite3.Connection:
        if self._closed.is_set():
            raise StoreError(f"{self.location} is closed")
        if self._conn is not None and self._private and self._files() != self._opened_files:
            # A writer came (or the files were replaced): private reads could now be torn.
            self._let_go()
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def change_source(self) -> FollowerBackend:
        return SqliteFollower(self)

    def registry_backend(
        self, *, busy_timeout: float | None = None, workspace: str | None = None
    ) -> RegistryBackend:
        timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        return SqliteRegistryBackend(Path(self.location), timeout, workspace)

    def close(self) -> None:
        """Close the connection; a read waiting for a writer's lock gives up."""
        super().close()
        self._closed.set()
        with self._lock:
            self._let_go()

    def _let_go(self) -> None:
        """Close the connection, or keep it for good if closing could drop a lock.

        Closing a unix-none connection closes its own descriptor of the database, and any close
        drops every POSIX lock this process holds on the file: our registry writer's write in
        flight would lose its lock, and another process's last connection could then delete
        the -wal under it (the write lost). The unix VFS (immutable and normal connections)
        keeps such a descriptor open itself while the process holds locks on the file.
        """
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._unix_none:
            self._unix_none = False
            with suppress(sqlite3.Error):
                conn.execute("PRAGMA shrink_memory")  # its page cache: all it costs is the fd
            _KEPT_OPEN.append(conn)
        else:
            conn.close()

    # -- reading -----------------------------------------------------------------------------
    def _error(self, exc: sqlite3.Error) -> StoreError:
        """The StoreError saying in one sentence what an SQLite error means for the reader."""
        text = str(exc)
        code = (getattr(exc, "sqlite_errorname", None) or "").upper()
        low = text.lower()
        if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in low:
            return StoreLocked(
                f"{self.location} is locked by a process writing to it (waited "
                f"{self.busy_timeout:g} s); try again in a moment"
            )
        if code == "SQLITE_READONLY_ROLLBACK":
            return StoreError(
                f"{self.location} holds an unfinished write left by a crashed writer (its "
                "-journal file); opening it once with MLflow or the sqlite3 shell rolls it back"
            )
        if code.startswith("SQLITE_NOTADB") or "not a database" in low:
            return NotAStoreError(f"{self.location} is not an SQLite database ({text})")
        if code.startswith("SQLITE_CORRUPT") or "malformed" in low:
            return StoreError(f"{self.location} is damaged: {text}")
        return StoreError(f"cannot read {self.location}: {text}")

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction, so the queries inside it see the same state of the database.

        Kept short: while it is open a writer in rollback-journal mode waits to commit.
        """
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            try:
                yield conn
            except sqlite3.OperationalError as exc:
                _rollback(conn)
                if "decode" in str(exc).lower() and conn.text_factory is str:
                    # Text that is not UTF-8: MLflow itself would fail; we read it with
                    # replacement characters (slower, so only once it is needed).
                    conn.text_factory = _text
                    self.warnings.add(
                        f"{self.location} holds text that is not valid UTF-8; "
                        "shown with replacement characters"
                    )
                    raise _Retry from exc
                raise self._error(exc) from exc
            except sqlite3.Error as exc:
                _rollback(conn)
                raise self._error(exc) from exc
            except BaseException:
                _rollback(conn)
                raise
            else:
                conn.execute("COMMIT")
                if self._private and self._files() != self._opened_files:
                    raise _Retry  # read without locks while the files changed: maybe torn

    def _read(self, fn):
        """Run `fn(conn)` in a snapshot; again when it must be repeated or the database was
        locked by a writer (after a growing pause, until busy_timeout has passed in all)."""
        deadline = time.monotonic() + self.busy_timeout
        pause = LOCK_FIRST_PAUSE
        while True:
            try:
                with self._snapshot() as conn:
                    return fn(conn)
            except _Retry as exc:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"cannot read {self.location}: it kept changing while it was read"
                    ) from exc
            except StoreLocked:
                if time.monotonic() + pause > deadline:
                    raise
                # Jittered, so that the next try does not meet the writer's next commit in
                # step; close() ends the wait.
                if self._closed.wait(pause * random.uniform(0.5, 1.5)):
                    raise StoreError(f"{self.location} is closed") from None
                pause = min(2 * pause, LOCK_MAX_PAUSE)

    def _has(self, table: str) -> bool:
        return table in self._columns

    def _col(self, table: str, column: str, default: str = "NULL") -> str:
        """`column` if `table` has it, else an SQL literal standing in for MLflow's default."""
        return column if column in self._columns.get(table, ()) else default

    def _read_schema(self) -> None:
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
            self._columns = columns  # what follow_state's queries are built from
            marks = None
            if {"runs", "experiments"} <= columns.keys():
                marks = self.follow_marks(conn)
            return columns, revisions, self._run_index(conn, "metrics", tables), workspaces, marks

        columns, revisions, self._metrics_index, workspaces, marks = self._read(read)
        self._check_schema(columns, revisions, workspaces)
        if marks is not None:
            self.fill_run_states(marks)
            self.opened_state = marks

    def _check_schema(self, columns: dict, revisions: list, workspaces: list) -> None:
        """Refuse a database that is not MLflow's; note its workspaces and schema revision.

        Shared with PostgresStore (store/postgres/), which names itself by `_name()`."""
        if [w for w in workspaces if w not in (None, "default")]:
            # MLflow 3.12+ multi-tenant servers keep workspaces apart; we show them all.
            self.notes.append(
                f"experiments of {len(workspaces)} MLflow workspaces are shown together"
            )
        missing = [
            f"{t}.{c}"
            for t, cols in (("experiments", ("experiment_id", "name")), ("runs", ("run_uuid",)))
            for c in cols
            if c not in columns.get(t, ())
        ]
        if missing:
            if not columns:
                raise NotAStoreError(
                    f"{self.location} is an empty {self.database_kind} database, not MLflow's"
                )
            raise NotAStoreError(
                f"{self.location} is not an MLflow database (no {', '.join(missing)})"
            )
        if revisions:
            self.schema_revision = str(revisions[0])
        self.known_revision = len(revisions) == 1 and self.schema_revision in _KNOWN
        if self.schema_revision is None:
            self.warnings.add(
                f"{self._name()} records no schema revision (no alembic_version); "
                "reading the tables and columns mltui recognises"
            )
        elif not self.known_revision:
            self.warnings.add(
                f"{self._name()} has schema revision {', '.join(map(str, revisions))}, "
                "unknown to mltui (a newer MLflow?); reading the tables and columns it recognises"
            )

    def _name(self) -> str:
        """The database as warnings name it."""
        return self.location.name

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

    def _id_chunks(self, ids: Sequence) -> Iterator[tuple[Sequence, str]]:
        """`ids` in slices small enough for one `IN (?, ...)`, with the placeholders."""
        size = 900  # under SQLITE_MAX_VARIABLE_NUMBER of every SQLite build (999 before 3.32)
        for start in range(0, len(ids), size):
            part = ids[start : start + size]
            yield part, ",".join("?" * len(part))

    # -- following (store/sqlite/follower.py) -------------------------------------------------
    def state_run_columns(self) -> str:
        """The columns of a run's state as following compares it (run_uuid first)."""
        return self._run_columns(_STATE_RUN_FIELDS)

    def state_experiments_sql(self) -> str:
        """The query of every experiment's state as following compares it (id first)."""
        c = self._col
        return (
            f"SELECT experiment_id, name, {c('experiments', 'artifact_location')}, "
            f"{c('experiments', 'lifecycle_stage', repr(ACTIVE))}, "
            f"{c('experiments', 'last_update_time')} FROM experiments"
        )

    def max_rowid(self, conn: sqlite3.Connection, table: str) -> int:
        if not self._has(table):
            return 0
        return conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0] or 0

    def live_tags(self, conn: sqlite3.Connection, run_ids: Iterable[str]) -> dict[str, int]:
        """A hash of each of these runs' tags."""
        run_ids = list(run_ids)
        if not run_ids or not self._has("tags"):
            return {}
        rows: dict[str, list] = {}
        for part, marks in self._id_chunks(run_ids):
            for rid, key, value in conn.execute(
                f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({marks})", part
            ):
                rows.setdefault(rid, []).append((key, value))
        return {rid: hash(tuple(sorted(rows.get(rid, ())))) for rid in run_ids}

    def registry_hash(self, conn: sqlite3.Connection) -> int:
        tables = [t for t in REGISTRY_TABLES if self._has(t)]
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

            rows, tags = self._read(read)
            if not rows:
                break
            state.runs.update((r[1], r[2:]) for r in rows)
            state.live_tags.update(tags)
            last = rows[-1][0]

    def retagged_runs(self) -> set[str]:
        """The runs read before (`tags_read`) whose tags now differ from that reading, in
        short transactions."""
        shown = dict(self.tags_read)  # readings may go on meanwhile
        ids = list(shown)
        out: set[str] = set()
        sql = "SELECT run_uuid, key, value FROM tags WHERE 1"
        for start in range(0, len(ids) if self._has("tags") else 0, RUN_STATES_PER_TRANSACTION):
            part = ids[start : start + RUN_STATES_PER_TRANSACTION]
            now: dict[str, dict] = {rid: {} for rid in part}
            rows = self._read(lambda conn, part=part: self._rows(conn, sql, "run_uuid", part))
            for rid, key, value in rows:
                now[rid][key] = value
            out.update(rid for rid in part if now[rid] != shown[rid])
        return out

    # -- experiments -------------------------------------------------------------------------
    def experiments(self, include_deleted: bool = False) -> list[Experiment]:
        """Experiments with their tags, ordered by id; active ones only unless `include_deleted`."""
        c = self._col
        stage = c("experiments", "lifecycle_stage", repr(ACTIVE))
        where = "" if include_deleted else f"WHERE {_active(stage)}"
        sql = (
            f"SELECT experiment_id, name, {c('experiments', 'artifact_location')}, "
            f"{stage}, {c('experiments', 'creation_time')}, "
            f"{c('experiments', 'last_update_time')} "
            f"FROM experiments {where} ORDER BY experiment_id"
        )

        def read(conn: sqlite3.Connection) -> list[Experiment]:
            exps = {}
            for row in conn.execute(sql):
                if not all(map(isinstance, row, _EXPERIMENT_TYPES)):
                    row = self._repaired_row("experiment", row, _EXPERIMENT_FIELDS,
                                             _EXPERIMENT_TYPES)  # fmt: skip
                    if row is None:
                        continue
                eid, name, location, lifecycle, created, updated = row
                exps[eid] = Experiment(
                    experiment_id=str(eid),
                    name=name,
                    artifact_location=location,
                    lifecycle_stage=lifecycle or ACTIVE,
                    creation_time=created,
                    last_update_time=updated,
                )
            if self._has("experiment_tags") and exps:
                for key, value, eid in conn.execute(
                    "SELECT key, value, experiment_id FROM experiment_tags"
                ):
                    exp = exps.get(eid)
                    if exp is not None:
                        self._put_value(exp.tags, f"experiment {eid}", "tag", key, value)
            return list(exps.values())

        return self._read(read)

    # -- runs --------------------------------------------------------------------------------
    def _run_columns(self, fields: Sequence[str] = _RUN_FIELDS) -> str:
        """`fields` of `runs`, one missing from an older schema as MLflow's default."""
        return ", ".join(
            f if f in _RUN_KEYS else self._col("runs", f, _RUN_DEFAULTS.get(f, "NULL"))
            for f in fields
        )

    def _repaired_row(self, what: str, row: tuple, fields: tuple, types: tuple) -> tuple | None:
        """`row` with each value of the wrong type made text or an empty time, one warning
        each; None (after a warning) when its id is not usable."""
        if not isinstance(row[0], types[0]) or not isinstance(row[1], types[1]):
            self.warnings.add(
                f"a {what} with {fields[0]} {shown(row[0])} and {fields[1]} {shown(row[1])} "
                "is skipped: not an id"
            )
            return None
        out = list(row)
        for i in range(2, len(row)):
            if isinstance(row[i], types[i]):
                continue
            if types[i] is _TIME:
                out[i], ok = as_time(row[i])
                said = "not a time; left empty" if not ok else f"read as {out[i]}"
            else:
                out[i], ok = as_text(row[i])
                said = f"not text; shown as {shown(out[i])}"
            self.warnings.add(f"{what} {row[0]}: {fields[i]} {shown(row[i])} is {said}")
        return tuple(out)

    def _run_of(self, row) -> Run | None:
        """The Run of a `run_columns` row; None (after a warning) when it has no usable id."""
        if not all(map(isinstance, row, _RUN_TYPES)):
            row = self._repaired_row("run", row, _RUN_FIELDS, _RUN_TYPES)
            if row is None:
                return None
        run_id, eid, name, status, start, end, stage, uri, user, deleted = row
        return Run(
            run_id=run_id,
            experiment_id=str(eid),
            run_name=name,
            status=status,
            start_time=start,
            end_time=end,
            lifecycle_stage=stage or ACTIVE,
            artifact_uri=uri,
            user_id=user,
            deleted_time=deleted,
        )

    def iter_runs(
        self,
        experiment_ids: Sequence[str] | None = None,
        include_deleted: bool = False,
        batch_size: int = RUN_BATCH,
    ) -> Iterator[list[Run]]:
        """Runs with params, latest metrics, tags, dataset inputs and model outputs, in batches."""
        where: list[str] = []
        args: list = []
        if experiment_ids is not None:
            ids = _int_ids(experiment_ids)
            if not ids:
                return
            where.append(f"experiment_id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        if not include_deleted:
            where.append(_active(self._col("runs", "lifecycle_stage", repr(ACTIVE))))
            if experiment_ids is None:
                exp_stage = self._col("experiments", "lifecycle_stage", repr(ACTIVE))
                where.append(
                    "experiment_id IN (SELECT experiment_id FROM experiments "
                    f"WHERE {_active(exp_stage)})"
                )
        where_sql = "".join(f"{clause} AND " for clause in where)
        # Newest first, as MLflow's search_runs orders by default (start_time DESC, run_uuid).
        order = f"{self._col('runs', 'start_time', '0')} DESC, run_uuid"
        ids_sql = f"SELECT run_uuid, rowid FROM runs WHERE {where_sql}1 ORDER BY {order}"
        rows = self._read(lambda conn: conn.execute(ids_sql, args).fetchall())
        # The first batch, newest first, so that it shows at once; the rest in the order the
        # runs were written, as their params, tags and metrics mostly were: neighbouring rows
        # make index probes ~1.35x cheaper than in start-time order (nearly a full scan's cost).
        rest = sorted(rows[batch_size:], key=_SECOND)
        run_ids = [rid for rid, _ in chain(rows[:batch_size], rest)]
        runs_sql = f"SELECT {self._run_columns()} FROM runs WHERE {where_sql}run_uuid IN "

        def chunk(part: Sequence[str]) -> list[Run]:
            # One run's row, params, tags and metrics come from one state of the database; the
            # row is read again here, so a run deleted since the listing is left out.
            def read(conn: sqlite3.Connection):
                sql = f"{runs_sql}({','.join('?' * len(part))})"
                return conn.execute(sql, [*args, *part]).fetchall(), self._run_rows(conn, part)

            run_rows, rows = self._read(read)
            runs = {run.run_id: run for run in map(self._run_of, run_rows) if run is not None}
            self._fill_runs(runs, rows)
            return [runs[rid] for rid in part if rid in runs]

        # Each chunk is a read transaction of its own: a writer in rollback-journal mode waits
        # for one chunk to end, never for the whole scan.
        for start in range(0, len(run_ids), batch_size):
            batch = run_ids[start : start + batch_size]
            with GcPause():
                runs = [
                    run
                    for at in range(0, len(batch), RUNS_PER_TRANSACTION)
                    for run in chunk(batch[at : at + RUNS_PER_TRANSACTION])
                ]
            yield runs

    def experiment_activity(
        self, include_deleted: bool = False, deleted_runs: bool | None = None
    ) -> dict[str, tuple[int, int | None]]:
        """Run count and latest start or end time per experiment, counted by SQLite itself."""
        # Times of another type (run() warns about them) are left out: SQLite ranks text and
        # blobs above every number.
        start, end = (
            f"CASE WHEN typeof({c}) = 'integer' THEN {c} END"
            for c in (self._col("runs", "start_time"), self._col("runs", "end_time"))
        )
        sql = f"SELECT experiment_id, count(*), max({start}), max({end}) FROM runs"
        wheres = []
        if not (include_deleted if deleted_runs is None else deleted_runs):
            wheres.append(_active(self._col("runs", "lifecycle_stage", repr(ACTIVE))))
        if not include_deleted:
            exp_stage = self._col("experiments", "lifecycle_stage", repr(ACTIVE))
            wheres.append(
                "experiment_id IN (SELECT experiment_id FROM experiments"
                f" WHERE {_active(exp_stage)})"
            )
        if wheres:
            sql += " WHERE " + " AND ".join(wheres)
        sql += " GROUP BY experiment_id"
        rows = self._read(lambda conn: conn.execute(sql).fetchall())
        out: dict[str, tuple[int, int | None]] = {}
        for experiment_id, count, last_start, last_end in rows:
            times = [t for t in (last_start, last_end) if t is not None]
            out[str(experiment_id)] = (count, max(times) if times else None)
        return out

    def run(self, run_id: str) -> Run | None:
        """One run in full (inputs and outputs included); None when there is no such run."""
        sql = f"SELECT {self._run_columns()} FROM runs WHERE run_uuid = ?"

        def read(conn: sqlite3.Connection):
            row = conn.execute(sql, (run_id,)).fetchone()
            return row, row and self._run_rows(conn, [run_id])

        row, rows = self._read(read)
        if row is None:
            return None
        run = self._run_of(row)
        if run is not None:
            self._fill_runs({run.run_id: run}, rows)
        return run

    def _rows(self, conn: sqlite3.Connection, sql: str, column: str, ids: Sequence) -> list:
        """Rows of `sql` whose `column` is in `ids`, by chunks of ids.

        `sql` ends in a WHERE clause (possibly `WHERE 1`). Cursors are chained and listed in C,
        not re-yielded row by row: this carries hundreds of thousands of rows.
        """
        return list(
            chain.from_iterable(
                conn.execute(f"{sql} AND {column} IN ({marks})", part)
                for part, marks in self._id_chunks(ids)
            )
        )

    def _run_rows(self, conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, list]:
        """The rows that fill the runs `ids` (params, tags, latest metrics, dataset inputs and
        their tags, model outputs), by table. Only fetched here: objects are built from them
        by `_fill_runs` once the read transaction has ended, so a writer waits less."""
        c = self._col
        out: dict[str, list] = {}
        for table in ("params", "tags"):
            if self._has(table):
                sql = f"SELECT run_uuid, key, value FROM {table} WHERE 1"
                out[table] = self._rows(conn, sql, "run_uuid", ids)
        table = "latest_metrics" if self._has("latest_metrics") else "metrics"
        if self._has(table):
            sql = (
                f"SELECT run_uuid, key, value, {c(table, 'timestamp', '0')}, "
                f"{c(table, 'step', '0')}, {c(table, 'is_nan', '0')} FROM {table} WHERE 1"
            )
            out[table] = self._rows(conn, sql, "run_uuid", ids)
        if not self._has("inputs"):
            return out
        if self._has("datasets"):
            d = "datasets"
            sql = (
                "SELECT i.input_uuid, i.destination_id, d.dataset_uuid, d.name, d.digest, "
                f"{c(d, 'dataset_source_type')}, {c(d, 'dataset_source')}, "
                f"{c(d, 'dataset_schema')}, {c(d, 'dataset_profile')} "
                "FROM inputs i JOIN datasets d ON i.source_id = d.dataset_uuid "
                "WHERE i.destination_type = 'RUN'"
            )
            out["datasets"] = rows = self._rows(conn, sql, "i.destination_id", ids)
            if rows and self._has("input_tags"):
                sql = "SELECT input_uuid, name, value FROM input_tags WHERE 1"
                out["input_tags"] = self._rows(conn, sql, "input_uuid", [r[0] for r in rows])
        # MLflow 3 records "run produced logged model" as an inputs row
        # (RUN_OUTPUT -> MODEL_OUTPUT); SqlAlchemyStore._get_model_outputs reads it back.
        sql = (
            f"SELECT source_id, destination_id, {c('inputs', 'step', '0')} "
            "FROM inputs WHERE source_type = 'RUN_OUTPUT' AND destination_type = 'MODEL_OUTPUT'"
        )
        out["outputs"] = self._rows(conn, sql, "source_id", ids)
        return out

    def _fill_runs(self, runs: dict[str, Run], rows: dict[str, list]) -> None:
        """Attach params, tags, latest metrics, inputs and outputs (`_run_rows`) to `runs`;
        values of a type MLflow never writes are named in a warning (`_put_value`)."""
        for table in ("params", "tags"):
            target = {rid: getattr(run, table) for rid, run in runs.items()}
            what = table[:-1]
            for rid, key, value in rows.get(table, ()):
                d = target.get(rid)
                if d is not None:
                    if type(key) is str and type(value) is str:
                        d[key] = value
                    else:
                        self._put_value(d, f"run {rid}", what, key, value)
        self.tags_read.update((rid, run.tags) for rid, run in runs.items())
        if "latest_metrics" in rows:
            self._fill_latest_metrics(runs, rows["latest_metrics"])
        elif "metrics" in rows:
            self._fill_latest_from_history(runs, rows["metrics"])
        for run in runs.values():
            # SqlRun.to_mlflow_entity: an empty name is taken from the mlflow.runName tag.
            if not run.run_name and run.tags.get(TAG_RUN_NAME):
                run.run_name = run.tags[TAG_RUN_NAME]
            run.inputs = []
            run.outputs = []
        _fill_dataset_inputs(runs, rows.get("datasets", ()), rows.get("input_tags", ()))
        for rid, model_id, step in rows.get("outputs", ()):
            owner = runs.get(rid)
            if owner is not None:
                assert owner.outputs is not None  # every run's were set to [] above
                owner.outputs.append(ModelOutput(model_id=model_id, step=step or 0))

    def _put_value(self, values: dict, owner: str, what: str, key, value) -> None:
        """`values[key] = value` for a key or value of another type than text (a warning each):
        a value made text, a NULL value kept (MLflow allows a NULL tag), a key not text skipped."""
        if type(key) is not str:
            self.warnings.add(f"{owner}: {what} {shown(key)}: its name is not text; skipped")
            return
        text, ok = as_text(value)
        if not ok:
            self.warnings.add(f"{owner}: {what} {key!r}: {shown(value)} is not text; shown as text")
        values[key] = text

    def _checked_point(self, run_id, key, value, ts, step, is_nan) -> tuple | None:
        """(value, timestamp, step) of a metric row, NULLs read as MLflow reads them (NaN, 0);
        None (after a warning) when a field is of a type no point can have."""
        value = _NAN if is_nan or value is None else value
        step = 0 if step is None else step
        if (
            type(key) is str
            and type(value) in (float, int)
            and type(step) is int
            and (ts is None or type(ts) is int)
        ):
            return float(value), ts, step
        self.warnings.add(
            f"run {run_id}: metric {shown(key)}: a point with value {shown(value)}, timestamp "
            f"{shown(ts)}, step {shown(step)} is skipped: not numbers"
        )
        return None

    def _fill_latest_metrics(self, runs: dict[str, Run], rows: Iterable[tuple]) -> None:
        target = {rid: run.metrics for rid, run in runs.items()}
        for rid, key, value, ts, step, is_nan in rows:
            d = target.get(rid)
            if d is None:
                continue
            if (
                type(value) is not float
                or type(step) is not int
                or type(ts) is not int
                or type(key) is not str
            ):
                point = self._checked_point(rid, key, value, ts, step, is_nan)
                if point is not None:
                    d[key] = Metric(key, *point)
                continue
            # The dataclass's own __init__: measured 2.5x faster than filling slots
            # with object.__setattr__ (20 ms for 60,000 metrics).
            d[key] = Metric(key, _NAN if is_nan else value, ts, step)

    def _fill_latest_from_history(self, runs: dict[str, Run], rows: Iterable[tuple]) -> None:
        """Before `latest_metrics` (early 1.x): the latest point is the one with the largest
        (step, timestamp, value), as MLflow's _update_latest_metrics_if_necessary ranks them."""
        best: dict[tuple[str, str], tuple] = {}
        for rid, key, value, ts, step, is_nan in rows:
            if rid not in runs:
                continue
            point = self._checked_point(rid, key, value, ts, step, is_nan)
            if point is None:
                continue
            # Ranked by the stored value, NaN rows by theirs too, as MLflow ranks them.
            rank = (point[2], point[1] or 0, value if type(value) in (float, int) else 0.0)
            old = best.get((rid, key))
            if old is None or rank > old[0]:
                best[(rid, key)] = (rank, point)
        for (rid, key), (_, point) in best.items():
            runs[rid].metrics[key] = Metric(key, *point)

    def _metric_rows(self, run_id: str, key: str) -> list[tuple]:
        """(timestamp, step, value, is_nan) of every point, in `metric_history`'s order."""
        if not self._has("metrics"):
            return []
        t = "metrics"
        c = self._col
        # Without statistics SQLite walks the primary key (key, timestamp, ...), which holds
        # every run's points of that key; the run_uuid index reads only this run's points.
        hint = f' INDEXED BY "{self._metrics_index}"' if self._metrics_index else ""
        sql = (
            f"SELECT {c(t, 'timestamp', '0')}, {c(t, 'step', '0')}, value, {c(t, 'is_nan', '0')} "
            f"FROM metrics{hint} WHERE run_uuid = ? AND key = ?"
        )
        rows = self._read(lambda conn: conn.execute(sql, (run_id, key)).fetchall())
        try:
            rows.sort()  # in Python: mostly in order already, so faster than ORDER BY
        except TypeError:  # a NULL (schemas before is_nan allowed them) or a value of another type
            rows = self._checked_points(run_id, key, rows)
            rows.sort()
        return rows

    def _checked_points(self, run_id: str, key: str, rows: list[tuple]) -> list[tuple]:
        """`_metric_rows` rows with NULLs read as MLflow reads them (timestamp and step 0, value
        NaN) and points of other types skipped (one warning)."""
        out = []
        for ts, step, value, nan in rows:
            point = self._checked_point(run_id, key, value, 0 if ts is None else ts, step, nan)
            if point is not None:
                out.append((point[1], point[2], point[0], 0))
        return out

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every point of one metric, ordered by (timestamp, step, value) as MLflow 3 orders it.

        MLflow 2.x returned the rows in table order; 3.x sorts them (get_metric_history).
        """
        rows = self._metric_rows(run_id, key)
        if not _well_typed(rows):
            rows = self._checked_points(run_id, key, rows)
        return [Metric(key, _NAN if nan else value, ts, step) for ts, step, value, nan in rows]

    def metric_series(self, run_id: str, key: str) -> Series:
        """`metric_history` as columns, taken from the query's rows without Metric objects.

        A NULL timestamp (possible only in hand-made databases) becomes 0, as a NULL step does.
        Long histories are kept in the series cache (user's cache folder) until the database
        or its -wal file changes; `use_cache = False` turns that off.
        """
        cache = self._series_cache()
        if cache is not None:
            columns = cache.query(
                str(self.location),
                str(run_id),
                key,
                lambda: self._metric_columns(run_id, key),
                # Commits still only in the -wal file are not seen: other entries.
                "no-wal" if self._wal_unseen else "",
            )
        else:
            columns = self._metric_columns(run_id, key)
        return Series(*columns)

    def series_job(self, run_id: str, key: str) -> tuple | None:
        """Reading this history in a worker process (store/parallel.py), or None to read it here:
        one the series cache holds, or one whose latest step says it is short."""
        cache = self._series_cache()
        variant = "no-wal" if self._wal_unseen else ""
        if cache is not None and cache.holds_query(str(self.location), str(run_id), key, variant):
            return None
        if self._col("latest_metrics", "step") != "step":
            return None
        sql = "SELECT step FROM latest_metrics WHERE run_uuid = ? AND key = ?"
        row = self._read(lambda conn: conn.execute(sql, (run_id, key)).fetchone())
        if row is None or not isinstance(row[0], int) or row[0] < parallel.MIN_JOB_STEPS:
            return None
        directory = None if cache is None else str(cache.directory)
        return sqlite_series_job, str(self.location), str(run_id), key, directory

    def _metric_columns(self, run_id: str, key: str) -> tuple[array, array, array]:
        """(steps, timestamps, values) of one history, as `metric_series` hands them over."""
        rows = self._metric_rows(run_id, key)
        # One list per column, by itemgetter in C: ~2x faster than zip(*rows), which makes an
        # iterator per row, and a third faster than a comprehension. The arrays also check the
        # types (a NULL, text or a float timestamp raises TypeError), in C.
        try:
            timestamps = array("q", list(map(_FIRST, rows)))
            steps = array("q", list(map(_SECOND, rows)))
            values = array("d", list(map(_THIRD, rows)))
        except TypeError:
            rows = self._checked_points(run_id, key, rows)
            timestamps = array("q", list(map(_FIRST, rows)))
            steps = array("q", list(map(_SECOND, rows)))
            values = array("d", list(map(_THIRD, rows)))
        if any(map(_FOURTH, rows)):
            values = array("d", [_NAN if nan else v for _, _, v, nan in rows])
        return steps, timestamps, values

    # -- logged models (MLflow 3) ------------------------------------------------------------
    def logged_models(
        self, experiment_ids: Iterable[str] | None = None, include_deleted: bool = False
    ) -> list[LoggedModel]:
        """MLflow 3 logged models with params, tags and metrics; deleted ones hidden by default."""
        if not self._has("logged_models"):
            return []
        t = "logged_models"
        c = self._col
        where: list[str] = []
        args: list = []
        if experiment_ids is not None:
            ids = _int_ids(experiment_ids)
            if not ids:
                return []
            where.append(f"experiment_id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        stage = c(t, "lifecycle_stage", repr(ACTIVE))
        if not include_deleted:
            # search_logged_models filters lifecycle_stage != 'deleted'.
            where.append(f"COALESCE({stage}, 'active') != 'deleted'")
        sql = (
            f"SELECT model_id, experiment_id, name, artifact_location, "
            f"{c(t, 'creation_timestamp_ms')}, {c(t, 'last_updated_timestamp_ms')}, "
            f"{c(t, 'model_type')}, {c(t, 'source_run_id')}, {c(t, 'status', '0')}, "
            f"{c(t, 'status_message')}, {stage} FROM logged_models"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {c(t, 'creation_timestamp_ms', '0')} DESC, model_id"

        def read(conn: sqlite3.Connection) -> list[LoggedModel]:
            models: dict[str, LoggedModel] = {}
            for row in conn.execute(sql, args):
                mid, eid, name, location, created, updated, mtype, run_id, status, msg, st = row
                label = _LOGGED_MODEL_STATUS.get(status)
                if label is None:
                    self.warnings.add(f"logged model {mid} has an unknown status {status!r}")
                    label = str(status)
                models[mid] = LoggedModel(
                    model_id=mid,
                    experiment_id=str(eid),
                    name=name,
                    artifact_location=location,
                    creation_timestamp=created,
                    last_updated_timestamp=updated,
                    model_type=mtype,
                    source_run_id=run_id,
                    status=label,
                    status_message=msg,
                    lifecycle_stage=st or ACTIVE,
                )
            if not models:
                return []
            for part, marks in self._id_chunks(list(models)):
                if self._has("logged_model_params"):
                    for mid, key, value in conn.execute(
                        "SELECT model_id, param_key, param_value FROM logged_model_params "
                        f"WHERE model_id IN ({marks})",
                        part,
                    ):
                        models[mid].params[key] = value
                if self._has("logged_model_tags"):
                    for mid, key, value in conn.execute(
                        "SELECT model_id, tag_key, tag_value FROM logged_model_tags "
                        f"WHERE model_id IN ({marks})",
                        part,
                    ):
                        models[mid].tags[key] = value
                if self._has("logged_model_metrics"):
                    m = "logged_model_metrics"
                    for mid, key, ts, step, value, name, digest, run_id in conn.execute(
                        "SELECT model_id, metric_name, metric_timestamp_ms, metric_step, "
                        f"metric_value, {c(m, 'dataset_name')}, {c(m, 'dataset_digest')}, "
                        f"{c(m, 'run_id')} FROM {m} WHERE model_id IN ({marks}) "
                        "ORDER BY metric_timestamp_ms, metric_step",
                        part,
                    ):
                        # The table has no is_nan column: MLflow stores NaN as 0.0 there and
                        # reads it back so; a NULL value is what we cannot show as a number.
                        models[mid].metrics.append(
                            LoggedModelMetric(
                                key,
                                _NAN if value is None else value,
                                ts,
                                step or 0,
                                name,
                                digest,
                                run_id,
                            )
                        )
            return list(models.values())

        return self._read(read)

    # -- model registry ----------------------------------------------------------------------
    def _version_columns(self) -> str:
        c = self._col
        t = "model_versions"
        return ", ".join(
            (
                "name",
                "version",
                c(t, "creation_time"),
                c(t, "last_updated_time"),
                c(t, "current_stage", "'None'"),
                c(t, "description"),
                c(t, "source"),
                c(t, "run_id"),
                c(t, "status", "'READY'"),
                c(t, "status_message"),
                c(t, "user_id"),
                c(t, "run_link"),
                c(t, "storage_location"),
                c(t, "workspace", "'default'"),
            )
        )

    @staticmethod
    def _version_of(row) -> ModelVersion:
        name, version, created, updated, stage, desc, source, run_id = row[:8]
        status, message, user, link, storage = row[8:13]
        model_id = None
        # A version registered from an MLflow 3 logged model has source models:/<model id>.
        if isinstance(source, str) and source.startswith("models:/m-"):
            model_id = source[len("models:/") :]
        return ModelVersion(
            name=name,
            version=str(version),
            creation_timestamp=created,
            last_updated_timestamp=updated,
            current_stage=stage,
            description=desc,
            source=source,
            run_id=run_id,
            status=status,
            status_message=message,
            user_id=user,
            run_link=link,
            storage_location=storage,
            model_id=model_id,
        )

    def _registry_tags(self, conn, table: str, with_version: bool) -> dict[tuple, dict[str, str]]:
        out: dict[tuple, dict[str, str]] = {}
        if not self._has(table):
            return out
        ws = self._col(table, "workspace", "'default'")
        cols = "name, version" if with_version else "name"
        for row in conn.execute(f"SELECT {ws}, {cols}, key, value FROM {table}"):
            *ident, key, value = row
            if with_version:
                ident[2] = str(ident[2])
            out.setdefault(tuple(ident), {})[key] = value
        return out

    def _aliases(self, conn) -> dict[tuple[str, str], dict[str, str]]:
        """(workspace, model name) -> {alias: version}; empty before MLflow 2.3."""
        out: dict[tuple[str, str], dict[str, str]] = {}
        t = "registered_model_aliases"
        if not self._has(t):
            return out
        ws = self._col(t, "workspace", "'default'")
        for w, name, alias, version in conn.execute(
            f"SELECT {ws}, name, alias, version FROM {t} ORDER BY alias"
        ):
            out.setdefault((w, name), {})[alias] = str(version)
        return out

    def _versions(
        self, conn, name: str | None = None, workspace: str | None = None
    ) -> list[tuple[str, ModelVersion]]:
        """(workspace, version) for versions that are not deleted, newest first per model."""
        sql = (
            f"SELECT {self._version_columns()} FROM model_versions "
            f"WHERE {self._col('model_versions', 'current_stage', repr('None'))} "
            f"IS NOT '{STAGE_DELETED_INTERNAL}'"
        )
        args: tuple = ()
        if name is not None:
            sql += " AND name = ?"
            args = (name,)
        if workspace is not None:
            sql += f" AND {self._col('model_versions', 'workspace', repr('default'))} = ?"
            args = (*args, workspace)
        sql += " ORDER BY name, version DESC"
        versions = []
        tags = self._registry_tags(conn, "model_version_tags", with_version=True)
        aliases = self._aliases(conn)
        for row in conn.execute(sql, args):
            mv = self._version_of(row)
            ws = row[13]
            mv.tags = tags.get((ws, mv.name, mv.version), {})
            mv.aliases = sorted(
                a for a, v in aliases.get((ws, mv.name), {}).items() if v == mv.version
            )
            versions.append((ws, mv))
        return versions

    def registered_models(self, include_prompts: bool = False) -> list[RegisteredModel]:
        """Registered models with tags, aliases and latest versions per stage, by name.

        Prompts (tag mlflow.prompt.is_prompt = 'true') are left out, as MLflow's
        search_registered_models leaves them out unless asked for.
        """
        if not self._has("registered_models") or not self._has("model_versions"):
            return []
        t = "registered_models"
        c = self._col
        sql = (
            f"SELECT {c(t, 'workspace', repr('default'))}, name, {c(t, 'creation_time')}, "
            f"{c(t, 'last_updated_time')}, {c(t, 'description')} FROM {t} ORDER BY name, 1"
        )

        def read(conn: sqlite3.Connection) -> list[RegisteredModel]:
            tags = self._registry_tags(conn, "registered_model_tags", with_version=False)
            aliases = self._aliases(conn)
            latest: dict[tuple[str, str], dict[str, ModelVersion]] = {}
            for ws, mv in self._versions(conn):
                # SqlRegisteredModel.to_mlflow_entity: the highest version in each stage.
                per_stage = latest.setdefault((ws, mv.name), {})
                if mv.current_stage not in per_stage:  # versions come newest first
                    per_stage[mv.current_stage] = mv
            models = []
            for ws, name, created, updated, desc in conn.execute(sql):
                model_tags = tags.get((ws, name), {})
                if not include_prompts and is_prompt(model_tags):
                    continue
                models.append(
                    RegisteredModel(
                        name=name,
                        creation_timestamp=created,
                        last_updated_timestamp=updated,
                        description=desc,
                        tags=model_tags,
                        aliases=aliases.get((ws, name), {}),
                        latest_versions=list(latest.get((ws, name), {}).values()),
                        workspace=ws,
                    )
                )
            return models

        return self._read(read)

    def model_versions(self, name: str, workspace: str | None = None) -> list[ModelVersion]:
        """Versions of one registered model, deleted ones left out, newest first.

        MLflow 3.12+ keys models by (workspace, name): `workspace` picks that one's versions."""
        if not self._has("model_versions"):
            return []
        return self._read(lambda conn: [mv for _, mv in self._versions(conn, name, workspace)])

    # -- artifacts ---------------------------------------------------------------------------
    # -- traces ------------------------------------------------------------------------------
    def traces(self, experiment_ids: Iterable[str]) -> list[TraceInfo]:
        """Trace infos of these experiments, oldest first (MLflow 3 `trace_info` and friends)."""
        ids = _int_ids(experiment_ids)
        if not ids or not self._has("trace_info"):
            return []
        where = f"experiment_id IN ({','.join('?' * len(ids))})"
        return self._read(
            lambda conn: read_trace_infos(conn, self._col, where, ids, self._has("assessments"))
        )

    def trace(self, trace_id: str) -> Trace | None:
        if not self._has("trace_info"):
            return None

        def read(conn: sqlite3.Connection) -> Trace | None:
            infos = read_trace_infos(
                conn, self._col, "request_id = ?", [trace_id], self._has("assessments")
            )
            if not infos:
                return None
            spans = read_spans(conn, trace_id, self.warnings.add) if self._has("spans") else []
            return Trace(infos[0], spans)

        return self._read(read)

    def artifact_root(self, run: Run) -> ArtifactRoot:
        """A run's artifact folder; relative (1.x) and moved paths are found beside the db."""
        return resolve_artifact_root(run.artifact_uri, self.store_root)


#: unix-none connections let go of, kept open for the process's lifetime (`_let_go`), as
#: rawread.read_db_header keeps its descriptors.
_KEPT_OPEN: list[sqlite3.Connection] = []


class _Retry(Exception):
    """Raised inside `_snapshot` when a read must be repeated with lenient text decoding."""


#: SQLite stores opened by this worker, by database path (opening reads the schema once).
_opened: dict[tuple[str, str | None], SqliteStore] = {}


def sqlite_series_job(db_path: str, run_id: str, key: str, cache: str | None) -> parallel.JobResult:
    """One SQLite history, read by a worker through a read-only store of its own."""
    from ..series_cache import SeriesCache

    store = _opened.get((db_path, cache))
    if store is None:
        store = _opened[(db_path, cache)] = SqliteStore(db_path)
        store.use_cache = cache is not None
        if cache is not None:
            store._series = SeriesCache(Path(cache))
    series = store.metric_series(run_id, key)
    return parallel.as_result(series.steps, series.timestamps, series.values, None)


def _rollback(conn: sqlite3.Connection) -> None:
    with suppress(sqlite3.Error):  # no transaction left to end
        conn.execute("ROLLBACK")


def _active(column: str) -> str:
    # MLflow writes 'active' or 'deleted'; a NULL (never written by MLflow) counts as active.
    return f"COALESCE({column}, 'active') != '{DELETED}'"


def _well_typed(rows: list[tuple]) -> bool:
    """Whether every (timestamp, step, value, is_nan) row has integers and a number (checked
    in C: array('q') refuses anything but an integer, array('d') anything but a number)."""
    try:
        array("q", map(_FIRST, rows)), array("q", map(_SECOND, rows))
        array("d", map(_THIRD, rows))
    except TypeError:
        return False
    return True


def _int_ids(ids: Iterable[str]) -> list[int]:
    """Experiment ids as the INTEGER the column holds; ids that are not numbers match nothing."""
    out = []
    for i in ids:
        try:
            out.append(int(i))
        except (TypeError, ValueError):
            continue
    return out


def _fill_dataset_inputs(
    runs: dict[str, Run], rows: Iterable[tuple], tag_rows: Iterable[tuple]
) -> None:
    by_input: dict[str, DatasetInput] = {}
    # SqlAlchemyStore._get_run_inputs keeps one DatasetInput per (run, dataset).
    per_run: dict[tuple[str, str], DatasetInput] = {}
    for row in rows:
        input_uuid, rid, ds_uuid, name, digest, stype, source, schema, profile = row
        run = runs.get(rid)
        if run is None:
            continue
        di = per_run.get((rid, ds_uuid))
        if di is None:
            di = DatasetInput(Dataset(name, digest, stype, source, schema, profile))
            per_run[(rid, ds_uuid)] = di
            assert run.inputs is not None  # the caller set every run's to []
            run.inputs.append(di)
        by_input[input_uuid] = di
    for input_uuid, key, value in tag_rows:
        di = by_input.get(input_uuid)
        if di is not None:
            di.tags[key] = value
