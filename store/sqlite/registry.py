"""Writing a SQLite store's model registry as MLflow's SQLAlchemy registry store does: rows in its
tables, one `BEGIN IMMEDIATE` transaction per write; refused when the registry tables are unlike
every tested MLflow's (registry_schema.py)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..errors import ReadOnlyError, StoreError
from ..registry.backend import RegistryBackend, model_versions_tag, writable
from ..registry.model import (
    TAG_MODEL_VERSIONS,
    InvalidWriteError,
    ModelSnapshot,
    Mutation,
    VersionSnapshot,
)
from .registry_schema import load_tested_schemas, registry_schema, untested_difference

#: How long SQLite waits for a concurrent writer (MLflow waits 20 s for us).
BUSY_TIMEOUT = 10.0


# -- SQLite ----------------------------------------------------------------------------------
class SqliteRegistryBackend(RegistryBackend):
    kind = "sqlite"

    def __init__(self, db: Path, busy_timeout: float, workspace: str | None = None) -> None:
        self.db = db
        self.busy_timeout = busy_timeout
        self.workspace = workspace
        self._lock = threading.Lock()

    def refusal(self) -> str | None:
        for path in (self.db, self.db.parent):
            if not writable(path):
                return f"{path} is not writable (file permissions); nothing was written."
        for suffix in ("-journal", "-wal", "-shm"):
            extra = Path(f"{self.db}{suffix}")
            if extra.exists() and not writable(extra):
                return f"{extra} is not writable (file permissions); nothing was written."
        try:
            conn = self._connect(write=False)
        except StoreError as exc:
            return f"Not writing: {exc}; nothing was written."
        try:
            return self._schema_refusal(conn)
        except sqlite3.Error as exc:
            return f"Not writing: cannot read the schema of {self.db} ({exc}); nothing was written."
        finally:
            conn.close()

    def _schema_refusal(self, conn: sqlite3.Connection) -> str | None:
        """One sentence when the registry tables are unlike every tested MLflow's, else None."""
        differs = untested_difference(registry_schema(conn))
        if differs is None:
            return None
        *older, newest = [t["mlflow"] for t in load_tested_schemas()]
        tested = f"{', '.join(older)} or {newest}" if older else newest
        return (
            f"Not writing to {self.db.name}: {differs}; mltui writes only to registry tables "
            f"exactly as MLflow {tested} made them, so nothing was written."
        )

    def _connect(self, write: bool) -> sqlite3.Connection:
        # mode=rw never creates a database; mode=ro never writes one.
        uri = f"file:{quote(str(self.db))}?mode={'rw' if write else 'ro'}"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.db}: {exc}") from exc
        return conn

    @staticmethod
    def table_columns(conn: sqlite3.Connection, table: str) -> set[str]:
        return {row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')}

    @staticmethod
    def _where(cols: set[str], ws: str | None, **keys: Any) -> tuple[str, list[Any]]:
        # MLflow 3.12+ keys every registry row by (workspace, name); single-tenant MLflow
        # writes them all into "default".
        items = list(keys.items())
        if "workspace" in cols:
            items.append(("workspace", ws or "default"))
        return " AND ".join(f'"{k}" = ?' for k, _ in items), [v for _, v in items]

    def _workspace_of(self, conn: sqlite3.Connection, cols: set[str], name: str) -> str | None:
        """The workspace to write `name` in: the writer's, else the model's own, else default."""
        if "workspace" not in cols:
            return None
        if self.workspace:
            return self.workspace
        found = sorted(
            w
            for (w,) in conn.execute(
                "SELECT workspace FROM registered_models WHERE name = ?", (name,)
            )
        )
        if len(found) > 1:
            raise InvalidWriteError(
                f"registered model {name!r} exists in the workspaces {', '.join(found)}; "
                "say which one to write in"
            )
        return found[0] if found else "default"

    def read_model(self, conn: sqlite3.Connection, name: str) -> ModelSnapshot:
        """The model as the write plans from it. With `apply_plan` and `table_columns`, the
        SQL that PostgreSQL's backend runs too (store/postgres/registry.py)."""
        rm_cols = self.table_columns(conn, "registered_models")
        if not rm_cols:
            return ModelSnapshot(name, exists=False)
        ws = self._workspace_of(conn, rm_cols, name)
        where, args = self._where(rm_cols, ws, name=name)
        row = conn.execute(
            f"SELECT description FROM registered_models WHERE {where}", args
        ).fetchone()
        if row is None:
            return ModelSnapshot(name, exists=False, workspace=ws)
        model = ModelSnapshot(name, exists=True, description=row[0], workspace=ws)
        cols = self.table_columns(conn, "registered_model_tags")
        if cols:
            where, args = self._where(cols, ws, name=name)
            model.tags = dict(
                conn.execute(f'SELECT "key", value FROM registered_model_tags WHERE {where}', args)
            )
        cols = self.table_columns(conn, "registered_model_aliases")
        if cols:
            where, args = self._where(cols, ws, name=name)
            model.aliases = {
                a: int(v)
                for a, v in conn.execute(
                    f"SELECT alias, version FROM registered_model_aliases WHERE {where}", args
                )
            }
        cols = self.table_columns(conn, "model_versions")
        where, args = self._where(cols, ws, name=name)
        for version, stage, desc in conn.execute(
            f"SELECT version, current_stage, description FROM model_versions WHERE {where}", args
        ):
            model.versions[int(version)] = VersionSnapshot(int(version), str(stage or "None"), desc)
        cols = self.table_columns(conn, "model_version_tags")
        if cols:
            where, args = self._where(cols, ws, name=name)
            for version, key, value in conn.execute(
                f'SELECT version, "key", value FROM model_version_tags WHERE {where}', args
            ):
                if int(version) in model.versions:
                    model.versions[int(version)].tags[key] = value
        return model

    def snapshot(self, name: str) -> ModelSnapshot:
        conn = self._connect(write=False)
        try:
            conn.execute("BEGIN")
            return self.read_model(conn, name)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.db}: {exc}") from exc
        finally:
            conn.close()

    def run(self, name: str, clock, build) -> tuple[int, int | None]:
        with self._lock:
            conn = self._connect(write=True)
            try:
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # Checked again inside the transaction: a newer MLflow may have migrated
                    # the database since the plan was made.
                    reason = self._schema_refusal(conn)
                    if reason is not None:
                        raise ReadOnlyError(reason)
                    now = clock()
                    model = self.read_model(conn, name)
                    created = self.apply_plan(conn, model, build(model, now), now)
                    conn.execute("COMMIT")
                    return now, created
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                low = str(exc).lower()
                if "locked" in low or "busy" in low:
                    raise StoreError(
                        f"{self.db} stayed locked by another writer for {self.busy_timeout:g} s; "
                        "nothing was written, try again"
                    ) from exc
                raise StoreError(f"writing {self.db} failed, nothing was written: {exc}") from exc
            finally:
                conn.close()

    def _upsert(self, conn, table: str, ws, keys: dict[str, Any], values: dict[str, Any]) -> None:
        cols = self.table_columns(conn, table)
        where, args = self._where(cols, ws, **keys)
        sets = ", ".join(f'"{k}" = ?' for k in values)
        cur = conn.execute(f"UPDATE {table} SET {sets} WHERE {where}", [*values.values(), *args])
        if cur.rowcount == 0:
            self._insert(conn, table, self._in_workspace(cols, ws, {**keys, **values}))

    @staticmethod
    def _in_workspace(cols: set[str], ws: str | None, row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "workspace": ws or "default"} if "workspace" in cols else row

    def _delete(self, conn, table: str, ws, keys: dict[str, Any]) -> None:
        where, args = self._where(self.table_columns(conn, table), ws, **keys)
        conn.execute(f"DELETE FROM {table} WHERE {where}", args)

    def apply_plan(
        self, conn, model: ModelSnapshot, mutations: list[Mutation], now: int
    ) -> int | None:
        created: int | None = None
        name, ws = model.name, model.workspace
        rm_cols = self.table_columns(conn, "registered_models")
        mv_cols = self.table_columns(conn, "model_versions")
        for m in mutations:
            if m.kind == "create_model":
                row = {
                    "name": name,
                    "creation_time": now,
                    "last_updated_time": now,
                    "description": m.fields.get("description"),
                }
                self._insert(conn, "registered_models", self._in_workspace(rm_cols, ws, row))
            elif m.kind == "update_model":
                values = {_SQL_FIELD.get(k, k): v for k, v in m.fields.items()}
                where, args = self._where(rm_cols, ws, name=name)
                sets = ", ".join(f'"{k}" = ?' for k in values)
                conn.execute(
                    f"UPDATE registered_models SET {sets} WHERE {where}",
                    [*values.values(), *args],
                )
            elif m.kind == "set_model_tag":
                self._upsert(
                    conn,
                    "registered_model_tags",
                    ws,
                    {"name": name, "key": m.key},
                    {"value": m.value},
                )
            elif m.kind == "delete_model_tag":
                self._delete(conn, "registered_model_tags", ws, {"name": name, "key": m.key})
            elif m.kind == "set_alias":
                self._upsert(
                    conn,
                    "registered_model_aliases",
                    ws,
                    {"name": name, "alias": m.key},
                    {"version": m.version},
                )
            elif m.kind == "delete_alias":
                self._delete(conn, "registered_model_aliases", ws, {"name": name, "alias": m.key})
            elif m.kind == "create_version":
                # Inside BEGIN IMMEDIATE nobody else writes: the number cannot be taken.
                where, args = self._where(mv_cols, ws, name=name)
                (top,) = conn.execute(
                    f"SELECT MAX(version) FROM model_versions WHERE {where}", args
                ).fetchone()
                created = (top or 0) + 1
                row = {
                    "name": name,
                    "version": created,
                    "creation_time": now,
                    "last_updated_time": now,
                    "description": m.fields.get("description"),
                    "user_id": None,
                    "current_stage": "None",
                    "source": m.fields.get("source"),
                    "run_id": m.fields.get("run_id"),
                    "status": "READY",
                    "status_message": None,
                    "run_link": m.fields.get("run_link"),
                    "storage_location": m.fields.get("storage_location"),
                }
                row = self._in_workspace(mv_cols, ws, row)
                # The table has no model_id column: MLflow keeps it only in `source`.
                self._insert(conn, "model_versions", {k: v for k, v in row.items() if k in mv_cols})
            elif m.kind == "update_version":
                values = {_SQL_FIELD.get(k, k): v for k, v in m.fields.items()}
                where, args = self._where(mv_cols, ws, name=name, version=m.version)
                sets = ", ".join(f'"{k}" = ?' for k in values)
                conn.execute(
                    f"UPDATE model_versions SET {sets} WHERE {where}", [*values.values(), *args]
                )
            elif m.kind in ("set_version_tag", "delete_version_tag"):
                version = created if created is not None else m.version
                keys = {"name": name, "version": version, "key": m.key}
                if m.kind == "set_version_tag":
                    self._upsert(conn, "model_version_tags", ws, keys, {"value": m.value})
                else:
                    self._delete(conn, "model_version_tags", ws, keys)
            elif m.kind == "append_model_version":
                self._append_model_version(conn, m.named_key, name, created or 0)
            else:  # pragma: no cover
                raise StoreError(f"unknown change {m.kind}")
        return created

    @staticmethod
    def _insert(conn, table: str, row: dict[str, Any]) -> None:
        names = ", ".join(f'"{k}"' for k in row)
        marks = ", ".join("?" for _ in row)
        conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))

    def _append_model_version(self, conn, model_id: str, name: str, version: int):
        if not self.table_columns(conn, "logged_model_tags"):
            return
        found = conn.execute(
            "SELECT experiment_id FROM logged_models WHERE model_id = ?", (model_id,)
        ).fetchone()
        if found is None:
            return  # as MLflow: a missing logged model only costs the link
        row = conn.execute(
            "SELECT tag_value FROM logged_model_tags WHERE model_id = ? AND tag_key = ?",
            (model_id, TAG_MODEL_VERSIONS),
        ).fetchone()
        value = model_versions_tag(row[0] if row else None, name, version)
        if row:
            conn.execute(
                "UPDATE logged_model_tags SET tag_value = ? WHERE model_id = ? AND tag_key = ?",
                (value, model_id, TAG_MODEL_VERSIONS),
            )
        else:
            conn.execute(
                "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) "
                "VALUES (?, ?, ?, ?)",
                (model_id, found[0], TAG_MODEL_VERSIONS, value),
            )


#: File-store field names -> SQLite column names.
_SQL_FIELD = {"creation_timestamp": "creation_time", "last_updated_timestamp": "last_updated_time"}
