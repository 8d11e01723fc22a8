"""The schema of the SQLite tables a registry write touches, and whether we have tested it.

Registry writes are allowed on a database whose registry tables are exactly as in one of the
MLflow versions whose writes the tests check (`tested_registry_schemas.json`, made from the
fixture databases by tests/fixtures/make_registry_schemas.py), whatever its alembic revision:
MLflow migrations often add tables elsewhere (3.18.0 added skills and issue categories) and
leave the registry alone. Anything else is refused with one sentence naming the difference.

A table is described by what a write depends on: its columns (type, NOT NULL, default, primary
key position), its indexes and unique keys, foreign keys, CHECK constraints and triggers, all
normalised so that names SQLite makes up and column order do not count.
"""

from __future__ import annotations

import json
import re
import sqlite3
from functools import cache
from pathlib import Path
from typing import Any

#: The tables a registry write reads or writes (logged_model* for the mlflow.modelVersions tag).
WRITTEN_TABLES = (
    "registered_models",
    "model_versions",
    "registered_model_tags",
    "model_version_tags",
    "registered_model_aliases",
    "logged_models",
    "logged_model_tags",
)
TESTED_SCHEMAS_FILE = Path(__file__).with_name("tested_registry_schemas.json")

Schema = dict[str, dict[str, Any]]


def squash(sql: str | None) -> str:
    """SQL text with its whitespace collapsed, as a comparable string."""
    return re.sub(r"\s+", " ", sql or "").strip()


def _checks(create_sql: str) -> list[str]:
    """The CHECK (...) expressions in a CREATE TABLE statement, parentheses balanced."""
    found = []
    for match in re.finditer(r"\bCHECK\s*\(", create_sql, re.IGNORECASE):
        depth, start = 1, match.end()
        pos = start
        while pos < len(create_sql) and depth:
            depth += {"(": 1, ")": -1}.get(create_sql[pos], 0)
            pos += 1
        found.append(squash(create_sql[start : pos - 1]))
    return sorted(found)


def _table(conn: sqlite3.Connection, table: str, create_sql: str) -> dict[str, Any]:
    columns = {
        name: {
            "type": re.sub(r"\s+", "", str(ctype)).upper(),
            "notnull": bool(notnull),
            "default": default,
            "pk": pk,
        }
        for _cid, name, ctype, notnull, default, pk in conn.execute(f'PRAGMA table_info("{table}")')
    }
    indexes = []
    for _seq, name, unique, origin, partial in conn.execute(f'PRAGMA index_list("{table}")'):
        cols = [r[2] for r in conn.execute(f'PRAGMA index_info("{name}")')]
        where = None
        if partial:
            (sql,) = conn.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
            ).fetchone()
            where = squash(re.split(r"\bWHERE\b", sql, flags=re.IGNORECASE)[-1])
        indexes.append({"columns": cols, "unique": bool(unique), "origin": origin, "where": where})
    keys: dict[int, dict[str, Any]] = {}
    for fk_id, _seq, target, src, dst, on_update, on_delete, _match in conn.execute(
        f'PRAGMA foreign_key_list("{table}")'
    ):
        fk = keys.setdefault(
            fk_id,
            {"table": target, "from": [], "to": [], "on_update": on_update, "on_delete": on_delete},
        )
        fk["from"].append(src)
        fk["to"].append(dst)
    triggers = [
        squash(sql)
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
        )
    ]
    return {
        "columns": columns,
        "indexes": sorted(indexes, key=json.dumps),
        "foreign_keys": sorted(keys.values(), key=json.dumps),
        "checks": _checks(create_sql),
        "triggers": sorted(triggers),
    }


def registry_schema(conn: sqlite3.Connection) -> Schema:
    """The normalised schema of the registry tables present in a database, by table name."""
    found = dict(
        conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN "
            f"({', '.join('?' for _ in WRITTEN_TABLES)})",
            WRITTEN_TABLES,
        ).fetchall()
    )
    return {t: _table(conn, t, found[t] or "") for t in WRITTEN_TABLES if t in found}


@cache
def load_tested_schemas() -> tuple[dict[str, Any], ...]:
    """[{"mlflow": version, "revision": alembic revision, "tables": Schema}, ...]"""
    return tuple(json.loads(TESTED_SCHEMAS_FILE.read_text(encoding="utf-8")))


# -- saying what differs ---------------------------------------------------------------------
_WHAT = {
    "indexes": "an index",
    "foreign_keys": "a foreign key",
    "checks": "a CHECK constraint",
    "triggers": "a trigger",
}


def _describe(kind: str, item: Any) -> str:
    if kind == "indexes":
        unique = "unique " if item["unique"] else ""
        return f"a {unique}index on ({', '.join(item['columns'])})"
    if kind == "foreign_keys":
        return (
            f"a foreign key ({', '.join(item['from'])}) → {item['table']}({', '.join(item['to'])})"
        )
    return f"{_WHAT[kind]} `{item}`"


def _column_text(col: dict[str, Any]) -> str:
    text = col["type"] or "untyped"
    if col["notnull"]:
        text += " NOT NULL"
    if col["default"] is not None:
        text += f" DEFAULT {col['default']}"
    if col["pk"]:
        text += f" (primary key part {col['pk']})"
    return text


def differences(
    ours: Schema, tested: Schema, version: str, every: tuple[dict[str, Any], ...] | None = None
) -> list[str]:
    """What makes `ours` differ from `tested` (MLflow `version`), one clause each; `every`
    tested schema (by default SQLite's) tells a column no tested MLflow has."""
    every = load_tested_schemas() if every is None else every
    out = []
    for table in WRITTEN_TABLES:
        mine, theirs = ours.get(table), tested.get(table)
        if mine is None or theirs is None:
            if mine is not None:
                out.append(f"it has a table {table} that MLflow {version} does not have")
            elif theirs is not None:
                out.append(f"it has no table {table}, which MLflow {version} has")
            continue
        for col in sorted(mine["columns"].keys() - theirs["columns"].keys()):
            who = f"MLflow {version} does not have"
            if not any(col in t["tables"].get(table, {}).get("columns", {}) for t in every):
                who = "no tested MLflow has"
            out.append(f"{table} has a column `{col}` that {who}")
        for col in sorted(theirs["columns"].keys() - mine["columns"].keys()):
            out.append(f"{table} lacks the column `{col}` that MLflow {version} has")
        for col in sorted(mine["columns"].keys() & theirs["columns"].keys()):
            a, b = mine["columns"][col], theirs["columns"][col]
            if a != b:
                out.append(
                    f"{table}.{col} is {_column_text(a)} where MLflow {version} has "
                    f"{_column_text(b)}"
                )
        for kind in _WHAT:
            for item in mine[kind]:
                if item not in theirs[kind]:
                    out.append(
                        f"{table} has {_describe(kind, item)} that MLflow {version} does not have"
                    )
            for item in theirs[kind]:
                if item not in mine[kind]:
                    out.append(f"{table} lacks {_describe(kind, item)} that MLflow {version} has")
    return out


def untested_difference(
    ours: Schema, every: tuple[dict[str, Any], ...] | None = None
) -> str | None:
    """None when `ours` equals a tested schema (of `every`, by default SQLite's); else what
    differs from the nearest one.

    A clause (no capital, no full stop), e.g. "model_versions has a column `foo` that MLflow
    3.18.0 does not have, and 2 more differences". Tested schemas are listed oldest first.
    """
    every = load_tested_schemas() if every is None else every
    best: list[str] | None = None
    for tested in every:
        found = differences(ours, tested["tables"], tested["mlflow"], every)
        if not found:
            return None
        if best is None or len(found) <= len(best):  # on a tie, the newer MLflow
            best = found
    if not best:
        return "mltui has no tested registry schema to compare it with"
    more = len(best) - 1
    return best[0] + (f", and {more} more difference{'s' * (more > 1)}" if more else "")
