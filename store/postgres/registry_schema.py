"""The schema of the PostgreSQL tables a registry write touches, read from the catalog, and
whether we have tested it.

The same description as SQLite's (store/sqlite/registry_schema.py, which also says what
differs): each table's columns (type as PostgreSQL spells it, NOT NULL, default, primary key
position), its indexes and unique keys, foreign keys, CHECK constraints and triggers, with the
names PostgreSQL or MLflow gave them left out. The schemas MLflow makes on PostgreSQL are
recorded in `tested_registry_schemas.json` (tests/fixtures/make_pg_registry_schemas.py).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from ..sqlite.registry_schema import WRITTEN_TABLES, Schema, squash

TESTED_SCHEMAS_FILE = Path(__file__).with_name("tested_registry_schemas.json")

#: pg_constraint's codes for a foreign key's actions, in SQLite's words.
_ACTIONS = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}

# Each query takes the tables' oids and gives each row's table first, so that the whole
# description is read in five queries. `conn` is store/postgres/dialect.py's: `?` placeholders.
_COLUMNS = (
    "SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
    "pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute a "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE a.attrelid = ANY(?) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)
_INDEXES = (
    "SELECT i.indrelid, ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) "
    "FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k), i.indisunique, i.indisprimary, "
    "EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype = 'u'), "
    "pg_get_expr(i.indpred, i.indrelid) FROM pg_index i WHERE i.indrelid = ANY(?)"
)
_FOREIGN_KEYS = (
    "SELECT c.conrelid, c.confrelid::regclass::text, "
    "ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a "
    "ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.o), "
    "ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a "
    "ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.o), "
    "c.confupdtype, c.confdeltype FROM pg_constraint c "
    "WHERE c.conrelid = ANY(?) AND c.contype = 'f'"
)
_CHECKS = (
    "SELECT conrelid, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ANY(?) "
    "AND contype IN ('c', 'x')"
)
_TRIGGERS = (
    "SELECT tgrelid, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = ANY(?) "
    "AND NOT tgisinternal"
)


def _empty() -> dict[str, Any]:
    return {"columns": {}, "indexes": [], "foreign_keys": [], "checks": [], "triggers": []}


def registry_schema(conn) -> Schema:
    """The normalised schema of the registry tables in the connection's current schema."""
    names = dict(
        conn.execute(
            "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND c.relkind IN ('r', 'p') AND c.relname = ANY(?)",
            (list(WRITTEN_TABLES),),
        ).fetchall()
    )
    tables = {oid: _empty() for oid in names}
    oids = (list(names),)
    for oid, name, ctype, notnull, default in conn.execute(_COLUMNS, oids):
        column = {"type": ctype, "notnull": bool(notnull), "default": default, "pk": 0}
        tables[oid]["columns"][name] = column
    for oid, cols, unique, primary, constraint, where in conn.execute(_INDEXES, oids):
        columns = tables[oid]["columns"]
        if primary:
            for position, col in enumerate(cols, 1):
                if col in columns:
                    columns[col]["pk"] = position
        origin = "pk" if primary else "u" if constraint else "c"
        tables[oid]["indexes"].append(
            {"columns": list(cols), "unique": bool(unique), "origin": origin, "where": where}
        )
    for oid, target, src, dst, on_update, on_delete in conn.execute(_FOREIGN_KEYS, oids):
        tables[oid]["foreign_keys"].append(
            {
                "table": target,
                "from": list(src),
                "to": list(dst),
                "on_update": _ACTIONS.get(on_update, on_update),
                "on_delete": _ACTIONS.get(on_delete, on_delete),
            }
        )
    for kind, sql in (("checks", _CHECKS), ("triggers", _TRIGGERS)):
        for oid, text in conn.execute(sql, oids):
            tables[oid][kind].append(squash(text))
    for table in tables.values():
        for kind in ("indexes", "foreign_keys"):
            table[kind].sort(key=json.dumps)
        for kind in ("checks", "triggers"):
            table[kind].sort()
    by_name = {names[oid]: table for oid, table in tables.items()}
    return {t: by_name[t] for t in WRITTEN_TABLES if t in by_name}


@cache
def load_tested_schemas() -> tuple[dict[str, Any], ...]:
    """[{"mlflow": version, "revision": alembic revision, "tables": Schema}, ...]"""
    return tuple(json.loads(TESTED_SCHEMAS_FILE.read_text(encoding="utf-8")))
