"""The SQL the SQLite reader writes, said in PostgreSQL's dialect.

SqliteStore builds its queries for SQLite (store/sqlite/reader.py); PostgresStore runs the same
queries through `Dialect`, a stand-in for the sqlite3 connection that rewrites each query
once (cached) before psycopg runs it. The rewrites cover what those queries use:

- placeholders: `?` becomes `%s`, a literal `%` becomes `%%`;
- `WHERE 1` / `AND 1` (SQLite's true): `TRUE`;
- `x IS NOT 'literal'` (SQLite's null-safe inequality): `IS DISTINCT FROM`;
- `CASE WHEN typeof(c) = 'integer' THEN c END` (SQLite's guard against text in a time column):
  the column itself, which PostgreSQL types strictly;
- `rowid`, which PostgreSQL lacks: 0 (only `iter_runs` reads it, to order its later batches).

Booleans (is_nan), bigint and double precision come back as the Python types sqlite3 gives.
"""

from __future__ import annotations

import re
from functools import lru_cache

_TRUE = re.compile(r"\b(WHERE|AND) 1\b(?![\d.])")
_IS_NOT_LITERAL = re.compile(r"\bIS NOT '")
_TYPEOF_GUARD = re.compile(r"CASE WHEN typeof\((\w+)\) = 'integer' THEN \1 END")
_ROWID = re.compile(r"\browid\b")


@lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """`sql` (as written for SQLite) in PostgreSQL's dialect; parameters as `%s`."""
    sql = _TYPEOF_GUARD.sub(r"\1", sql)
    sql = _TRUE.sub(r"\1 TRUE", sql)
    sql = _IS_NOT_LITERAL.sub("IS DISTINCT FROM '", sql)
    sql = _ROWID.sub("0", sql)
    return sql.replace("%", "%%").replace("?", "%s")


class Dialect:
    """What SqliteStore's reading uses of a sqlite3 connection (`execute`), on psycopg."""

    __slots__ = ("conn",)

    def __init__(self, conn) -> None:
        self.conn = conn

    def execute(self, sql: str, params=()):
        """A cursor over the rows, iterable, with fetchone and fetchall, as sqlite3's is."""
        return self.conn.execute(postgres_sql(sql), list(params), prepare=False)
