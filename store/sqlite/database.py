"""The reading both SQL stores share: SqliteStore (store/sqlite/reader.py) and PostgresStore
(store/postgres/store.py) read MLflow's tables with the same queries, on purpose, as MLflow's
alembic migrations make them alike on both databases.

`SqlDatabase` is that shared base: one read transaction at a time (`snapshot`, which each
database provides), repeated while a writer holds a lock or the read must be redone (`read`),
the schema's tables and columns (`has`, `col`: a column a schema lacks reads as MLflow's
default), and the check that a database is MLflow's (`check_schema`). The readers built on it
are store/sqlite/{runs,metrics,models,follow_state}.py.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, TypeVar

from ..base import Store
from ..entities import DELETED
from ..errors import NotAStoreError, StoreError, StoreLocked
from .follower import FollowState

T = TypeVar("T")

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
#: A read meeting a writer's lock tries again after a pause (LOCK_FIRST_PAUSE, doubling up to
#: LOCK_MAX_PAUSE) until `busy_timeout` has passed.
LOCK_FIRST_PAUSE = 0.005
LOCK_MAX_PAUSE = 0.1


class ReadAgain(Exception):
    """Raised inside `snapshot` when a read must be repeated (lenient text decoding, or files
    that changed under a read without locks)."""


class SqlDatabase(Store):
    """An MLflow tracking database read with SQL: what SqliteStore and PostgresStore share."""

    #: The database engine, as messages name it.
    database_kind = "SQL"

    def __init__(self, location: Path | str, store_root: Path, busy_timeout: float) -> None:
        super().__init__()
        #: The database file (PostgreSQL: its URI without the password).
        self.location = location
        #: Where relative artifact paths are found: MLflow 3 puts `./mlruns` beside a database.
        self.store_root = store_root
        #: Seconds a read keeps trying while a writer holds the database's lock, in all.
        self.busy_timeout = busy_timeout
        #: The database's alembic revision (None when it has no `alembic_version` table).
        self.schema_revision: str | None = None
        #: Whether `schema_revision` is one this version of mltui knows.
        self.known_revision = False
        #: Table -> its columns, as `read_schema` found them.
        self.columns: dict[str, frozenset[str]] = {}
        #: Held by the read transaction in progress: one at a time on the one connection.
        self.read_lock = threading.RLock()
        #: Set by `close`: a read waiting for a writer's lock gives up.
        self.closing = threading.Event()
        #: The database as the first read saw it, in the same transaction: following starts
        #: from here (`StoreFollower(since_ns=store.opened_ns)`), so nothing committed between
        #: the reading on show and the start of following is lost (SQLite only).
        self.opened_state: FollowState | None = None
        #: run id -> the tags its latest reading returned (the Run's own dict): `set_tag` on a
        #: key a run has updates its row in place, which no rowid or run state shows, so
        #: following starts by comparing these (`retagged_runs`).
        self.tags_read: dict[str, dict[str, str]] = {}
        #: An index of `metrics` led by run_uuid, for one run's history (SQLite's planner).
        self._metrics_index: str | None = None
        #: Commits still only in a -wal file are not seen (SQLite's connect.py says when).
        self._wal_unseen = False

    def snapshot(self) -> AbstractContextManager[Any]:
        """One read transaction, whose queries see one state of the database; its connection
        offers `execute` as sqlite3's does. Provided by each database."""
        raise NotImplementedError

    def read_schema(self) -> None:
        """Find the tables and columns (`columns`) and check the database is MLflow's."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop reading; a read waiting for a writer's lock gives up."""
        super().close()
        self.closing.set()

    def read(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(conn)` in a snapshot; again when it must be repeated or the database was
        locked by a writer (after a growing pause, until busy_timeout has passed in all)."""
        deadline = time.monotonic() + self.busy_timeout
        pause = LOCK_FIRST_PAUSE
        while True:
            try:
                with self.snapshot() as conn:
                    return fn(conn)
            except ReadAgain as exc:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"cannot read {self.location}: it kept changing while it was read"
                    ) from exc
            except StoreLocked:
                if time.monotonic() + pause > deadline:
                    raise
                # Jittered, so that the next try does not meet the writer's next commit in
                # step; close() ends the wait.
                if self.closing.wait(pause * random.uniform(0.5, 1.5)):
                    raise StoreError(f"{self.location} is closed") from None
                pause = min(2 * pause, LOCK_MAX_PAUSE)

    def has(self, table: str) -> bool:
        """Whether the database has this table (a schema of another MLflow version may not)."""
        return table in self.columns

    def col(self, table: str, column: str, default: str = "NULL") -> str:
        """`column` if `table` has it, else an SQL literal standing in for MLflow's default."""
        return column if column in self.columns.get(table, ()) else default

    def check_schema(self, columns: dict, revisions: list, workspaces: list) -> None:
        """Refuse a database that is not MLflow's; note its workspaces and schema revision.

        Each database names itself in warnings by `display_name()`."""
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
                f"{self.display_name()} records no schema revision (no alembic_version); "
                "reading the tables and columns mltui recognises"
            )
        elif not self.known_revision:
            self.warnings.add(
                f"{self.display_name()} has schema revision {', '.join(map(str, revisions))}, "
                "unknown to mltui (a newer MLflow?); reading the tables and columns it recognises"
            )

    def display_name(self) -> str:
        """The database as warnings name it."""
        return str(self.location)

    def id_chunks(self, ids: Sequence) -> Iterator[tuple[Sequence, str]]:
        """`ids` in slices small enough for one `IN (?, ...)`, with the placeholders."""
        size = 900  # under SQLITE_MAX_VARIABLE_NUMBER of every SQLite build (999 before 3.32)
        for start in range(0, len(ids), size):
            part = ids[start : start + size]
            yield part, ",".join("?" * len(part))


def not_deleted(column: str) -> str:
    """The SQL condition that a row's lifecycle stage `column` is not deleted."""
    # MLflow writes 'active' or 'deleted'; a NULL (never written by MLflow) counts as active.
    return f"COALESCE({column}, 'active') != '{DELETED}'"


def int_ids(ids: Iterable[str]) -> list[int]:
    """Experiment ids as the INTEGER the column holds; ids that are not numbers match nothing."""
    out = []
    for i in ids:
        try:
            out.append(int(i))
        except (TypeError, ValueError):
            continue
    return out
