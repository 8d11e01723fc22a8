"""Writing the model registry of a PostgreSQL store as MLflow's SQLAlchemy registry store does.

The rows written, and the SQL that writes them, are the SQLite backend's
(store/sqlite/registry.py: `SqliteRegistryBackend`, whose queries use `?` placeholders, run here
through store/postgres/dialect.py). What differs is the seam around them:

- the connection: one of the store's own, not read-only, for writes only (`PostgresStore.writing`);
- the transaction: REPEATABLE READ, begun by locking the model's row (`FOR NO KEY UPDATE`, as
  MLflow's own UPDATE of that row locks it: a version, stage or description write of MLflow's and
  one of ours take turns, and the version number is read under that lock). A row of ours that
  another writer changed after our snapshot fails the write (serialization failure), and so does
  a row both insert (unique violation) or a deadlock: the whole write is then made again from a
  fresh snapshot, its plan computed anew, so that no change of MLflow's is ever undone. Bounded
  by `busy_timeout`, then one sentence;
- the table columns, read from PostgreSQL's catalog (`RegistryDialect.columns`);
- the refusals: a standby or read-only server, a role without the rights a write needs, and
  registry tables unlike those MLflow makes on PostgreSQL (registry_schema.py), each one
  sentence before any dialog.
"""

from __future__ import annotations

import contextlib
import random
import time
from typing import TYPE_CHECKING

from ..errors import ReadOnlyError, StoreError
from ..registry.model import ModelSnapshot
from ..sqlite.registry import SqliteRegistryBackend
from ..sqlite.registry_schema import WRITTEN_TABLES, Schema, untested_difference
from .dialect import Dialect
from .registry_schema import load_tested_schemas, registry_schema

if TYPE_CHECKING:
    from .store import PostgresStore

#: The rights each registry table must grant the role, by what a write does to it (UPDATE also
#: covers the row lock a write begins with).
NEEDED_RIGHTS = {
    "registered_models": ("INSERT", "UPDATE"),
    "model_versions": ("INSERT", "UPDATE"),
    "registered_model_tags": ("INSERT", "UPDATE", "DELETE"),
    "model_version_tags": ("INSERT", "UPDATE", "DELETE"),
    "registered_model_aliases": ("INSERT", "UPDATE", "DELETE"),
    "logged_model_tags": ("INSERT", "UPDATE"),
}
#: SQLSTATEs after which the write is made again from a fresh snapshot: serialization failure,
#: deadlock, unique violation (a row another writer inserted first).
RETRIED = {"40001", "40P01", "23505"}
FIRST_PAUSE = 0.005
MAX_PAUSE = 0.2
_COLUMNS = (
    "SELECT table_name, column_name FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = ANY(?)"
)


class RegistryDialect(Dialect):
    """Dialect, and the columns of the registry tables as this transaction sees them."""

    __slots__ = ("tables",)

    def __init__(self, conn, tables: dict[str, set[str]]) -> None:
        super().__init__(conn)
        self.tables = tables

    def columns(self, table: str) -> set[str]:
        return self.tables.get(table, set())


class _Conflict(Exception):
    """Another writer changed what this write read or wrote: make it again."""


class PostgresRegistryBackend(SqliteRegistryBackend):
    kind = "postgres"

    # SqliteRegistryBackend's constructor takes a database file; this one, the store.
    def __init__(
        self, store: PostgresStore, busy_timeout: float, workspace: str | None = None
    ) -> None:
        self.store = store
        self.busy_timeout = busy_timeout
        self.workspace = workspace

    @property
    def where(self) -> str:
        return str(self.store.location)

    # -- refusals ----------------------------------------------------------------------------
    def refusal(self) -> str | None:
        try:
            return self.store.read(self._refusal)
        except StoreError as exc:
            return f"Not writing: {exc}; nothing was written."

    def _refusal(self, conn: Dialect) -> str | None:
        standby, read_only, user = conn.execute(
            "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only'), "
            "current_user"
        ).fetchone()
        if standby or read_only == "on":
            what = "a standby server" if standby else "a read-only database"
            return f"{self.where} is {what}: it takes no writes; nothing was written."
        schema = registry_schema(conn)
        rights = [(t, r) for t in WRITTEN_TABLES if t in schema for r in NEEDED_RIGHTS.get(t, ())]
        granted = conn.execute(
            "SELECT has_table_privilege(quote_ident(current_schema()) || '.' || quote_ident(t), r) "
            "FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS p(t, r, o) ORDER BY o",
            ([t for t, _ in rights], [r for _, r in rights]),
        ).fetchall()
        for (table, right), (ok,) in zip(rights, granted, strict=True):
            if not ok:
                return (
                    f"{self.where} is not writable by the role {user} (no {right} right on "
                    f"{table}); nothing was written."
                )
        return self._untested(schema)

    def _untested(self, schema: Schema) -> str | None:
        """One sentence when the registry tables are unlike MLflow's on PostgreSQL, else None."""
        tested = load_tested_schemas()
        differs = untested_difference(schema, tested)
        if differs is None:
            return None
        versions = " or ".join(t["mlflow"] for t in tested)
        return (
            f"Not writing to {self.where}: {differs}; mltui writes only to registry tables "
            f"exactly as MLflow {versions} made them on PostgreSQL, so nothing was written."
        )

    # -- the SQLite backend's SQL, on PostgreSQL ---------------------------------------------
    def table_columns(self, conn: RegistryDialect, table: str) -> set[str]:  # type: ignore[override]
        return conn.columns(table)

    @staticmethod
    def _tables(conn: Dialect) -> dict[str, set[str]]:
        tables: dict[str, set[str]] = {}
        for table, column in conn.execute(_COLUMNS, (list(WRITTEN_TABLES),)):
            tables.setdefault(table, set()).add(column)
        return tables

    def snapshot(self, name: str) -> ModelSnapshot:
        return self.store.read(
            lambda conn: self._model(RegistryDialect(conn.conn, self._tables(conn)), name)
        )

    def _model(self, conn: RegistryDialect, name: str) -> ModelSnapshot:
        # SqliteRegistryBackend's reading, typed for sqlite3, uses only `execute` and `table_columns`.
        return self.read_model(conn, name)  # type: ignore[arg-type]

    # -- writing -----------------------------------------------------------------------------
    def run(self, name: str, clock, build) -> tuple[int, int | None]:
        deadline = time.monotonic() + self.busy_timeout
        pause, tries = FIRST_PAUSE, 0
        while True:
            tries += 1
            try:
                return self._write(name, clock, build)
            except _Conflict as exc:
                if time.monotonic() + pause > deadline:
                    raise StoreError(
                        f"other writers kept changing the registry of {self.where} for "
                        f"{self.busy_timeout:g} s ({tries} tries, last: {exc}); nothing was "
                        "written, try again"
                    ) from None
            # Jittered, so that two writers that met do not meet again in step.
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(2 * pause, MAX_PAUSE)

    def _write(self, name: str, clock, build) -> tuple[int, int | None]:
        import psycopg

        with self.store.writing() as conn:
            stage = "begin"
            try:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                stage = "write"
                # A literal: SET takes no parameters. A row lock held longer fails the write.
                conn.execute(
                    f"SET LOCAL lock_timeout = '{max(1, int(self.busy_timeout * 1000))}ms'"
                )
                db = Dialect(conn)
                # First, so that the snapshot is taken at it: the model's row, in any workspace.
                db.execute(
                    "SELECT 1 FROM registered_models WHERE name = ? FOR NO KEY UPDATE", (name,)
                )
                # Checked again inside the transaction: a newer MLflow may have migrated the
                # database since the plan was made.
                schema = registry_schema(db)
                reason = self._untested(schema)
                if reason is not None:
                    raise ReadOnlyError(reason)
                tables = {t: set(s["columns"]) for t, s in schema.items()}
                db = RegistryDialect(conn, tables)
                now = clock()
                model = self._model(db, name)
                created = self.apply_plan(db, model, build(model, now), now)
                stage = "commit"
                conn.execute("COMMIT")
                return now, created
            except psycopg.Error as exc:
                _rollback(conn)
                raise self._write_error(exc, stage, conn.broken) from None
            except BaseException:
                _rollback(conn)
                raise

    def _write_error(self, exc: Exception, stage: str, broken: bool) -> Exception:
        """What a failure at `stage` (begin, write, commit) means: made again (_Conflict), or
        one sentence saying whether anything may have been written."""
        state = getattr(exc, "sqlstate", None) or ""
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if broken and stage == "begin":
            # Dropped while idle (a server restarted): nothing was sent; a new connection.
            return _Conflict(f"the connection was dropped ({first})")
        if broken and stage == "commit":
            return StoreError(
                f"lost the connection to {self.where} while the write was being committed: it "
                "may or may not have been made; look at the registry before trying again"
            )
        if broken:
            return StoreError(f"lost the connection to {self.where} ({first}); nothing was written")
        if state in RETRIED:
            return _Conflict(first)
        if state == "55P03":  # lock_not_available: lock_timeout passed
            return StoreError(
                f"{self.where}: the model stayed locked by another writer for "
                f"{self.busy_timeout:g} s; nothing was written, try again"
            )
        if state in ("42501", "25006"):  # insufficient privilege, read-only transaction
            return ReadOnlyError(f"{self.where} refused the write ({first}); nothing was written.")
        return StoreError(f"writing {self.where} failed, nothing was written: {first}")


def _rollback(conn) -> None:
    """End a failed transaction, if the connection still can."""
    import psycopg

    if conn.broken or conn.closed:
        return
    with contextlib.suppress(psycopg.Error):
        conn.execute("ROLLBACK")
