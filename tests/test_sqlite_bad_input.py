"""SqliteStore on databases that are locked, newer than we know, damaged, or not MLflow's."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from store.errors import NotAStoreError, StoreError
from store.sqlite_store import SqliteStore
from tests.conftest import FIXTURE_STORES, expected_reading
from tests.readings import SECTIONS, differences, problems_reading, reading_of

SQLITE_FIXTURES = [p for p in FIXTURE_STORES if (p / "mlflow.db").is_file()]


@pytest.fixture
def fixture_copy(tmp_path) -> Path:
    """A copy of the newest SQLite fixture store's folder (the database and its mlruns/)."""
    if not SQLITE_FIXTURES:
        pytest.skip("no SQLite fixture store")
    source = SQLITE_FIXTURES[-1]
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target


def _state(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under `folder` with its content hash and mtime."""
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _add_tag(conn: sqlite3.Connection, run_id: str, key: str, value: str) -> None:
    conn.execute("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)", (key, value, run_id))


# -- a writer holding the database ------------------------------------------------------------
def test_exclusive_writer_makes_reads_fail_clearly_and_the_writer_succeeds(fixture_copy):
    db = fixture_copy / "mlflow.db"
    store = SqliteStore(db, busy_timeout=0.2)
    run_id = store.runs()[0].run_id
    writer = sqlite3.connect(db, timeout=10, isolation_level=None)
    assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    writer.execute("BEGIN EXCLUSIVE")
    _add_tag(writer, run_id, "written", "while locked")
    try:
        with pytest.raises(StoreError, match="locked by a process writing to it"):
            store.runs()
        with pytest.raises(StoreError, match="locked"):
            SqliteStore(db, busy_timeout=0.2)
    finally:
        writer.execute("COMMIT")  # the writer is unharmed by our attempts
        writer.close()
    # Once the writer is done the same store reads again, and sees what was written.
    assert store.run(run_id).tags["written"] == "while locked"


def test_a_writer_never_fails_while_we_read(fixture_copy):
    db = fixture_copy / "mlflow.db"
    store = SqliteStore(db)
    run_id = store.runs()[0].run_id
    stop = threading.Event()
    reader_errors: list[Exception] = []

    def read_continuously():
        while not stop.is_set():
            try:
                store.runs(include_deleted=True)
            except Exception as exc:  # pragma: no cover - reported below
                reader_errors.append(exc)

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        # The same busy timeout SQLAlchemy gives MLflow's own connections (pysqlite's 5 s).
        writer = sqlite3.connect(db, timeout=5, isolation_level=None)
        for i in range(30):
            writer.execute("BEGIN IMMEDIATE")
            _add_tag(writer, run_id, f"k{i}", str(i))
            writer.execute("COMMIT")
        writer.close()
    finally:
        stop.set()
        reader.join()
    assert not reader_errors
    assert {f"k{i}" for i in range(30)} <= set(store.run(run_id).tags)


def test_a_crashed_writers_journal_is_named_and_left_alone(fixture_copy):
    db = fixture_copy / "mlflow.db"
    # A writer that dies mid-transaction after spilling pages leaves a "hot" -journal behind.
    crash = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size = 10')\n"
        "c.execute('BEGIN EXCLUSIVE')\n"
        "for i in range(20000):\n"
        "    c.execute('INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)',"
        " (f'k{i}', 'x' * 200, 'r'))\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", crash, str(db)], check=True)
    journal = fixture_copy / "mlflow.db-journal"
    assert journal.is_file()
    before = _state(fixture_copy)
    with pytest.raises(StoreError, match="unfinished write left by a crashed writer"):
        SqliteStore(db, busy_timeout=0.2)
    assert _state(fixture_copy) == before


# -- newer schemas ----------------------------------------------------------------------------
def test_unknown_revision_with_extra_column_and_table_reads_with_one_warning(fixture_copy):
    db = fixture_copy / "mlflow.db"
    conn = sqlite3.connect(db)
    conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    conn.execute("ALTER TABLE runs ADD COLUMN shiny_new TEXT DEFAULT 'x'")
    conn.execute("ALTER TABLE model_versions ADD COLUMN model_id TEXT")
    conn.execute("CREATE TABLE future_things (id INTEGER PRIMARY KEY, what TEXT)")
    conn.execute("INSERT INTO future_things (what) VALUES ('from the future')")
    conn.commit()
    conn.close()

    store = SqliteStore(db)
    assert store.schema_revision == "ffffffffffff"
    assert not store.known_revision
    ours = json.loads(json.dumps(reading_of(store)))
    expected = expected_reading(fixture_copy)
    problems = [p for s in SECTIONS for p in differences(ours[s], expected[s], s)]
    assert not problems, "\n".join(problems[:20])
    assert len(store.warnings.messages) == 1
    assert "ffffffffffff" in store.warnings.messages[0]


def test_no_alembic_version_table_reads_with_a_warning(fixture_copy):
    db = fixture_copy / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE alembic_version")
    conn.close()
    store = SqliteStore(db)
    assert store.schema_revision is None
    assert not store.known_revision
    assert len(store.runs(include_deleted=True)) == len(expected_reading(fixture_copy)["runs"])
    assert len(store.warnings.messages) == 1


# -- not an MLflow database -------------------------------------------------------------------
def test_a_text_file_is_not_a_store(tmp_path):
    path = tmp_path / "mlflow.db"
    path.write_text("experiment_id,name\n0,Default\n")
    with pytest.raises(NotAStoreError, match="not an SQLite database"):
        SqliteStore(path)


def test_an_empty_file_is_not_a_store(tmp_path):
    path = tmp_path / "mlflow.db"
    path.touch()
    with pytest.raises(NotAStoreError, match="empty file"):
        SqliteStore(path)
    assert path.stat().st_size == 0


def test_missing_path_and_folder_are_not_stores(tmp_path):
    with pytest.raises(NotAStoreError, match="does not exist"):
        SqliteStore(tmp_path / "nothing.db")
    with pytest.raises(NotAStoreError, match="folder"):
        SqliteStore(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_database_without_mlflow_tables_is_not_a_store(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(NotAStoreError, match=r"not an MLflow database \(no experiments"):
        SqliteStore(path)


def test_a_truncated_database_fails_with_a_store_error(fixture_copy, tmp_path):
    data = (fixture_copy / "mlflow.db").read_bytes()
    path = tmp_path / "truncated.db"
    path.write_bytes(data[:8192])
    # Depending on what the cut leaves, opening or the first read says the file is damaged.
    with pytest.raises(StoreError):
        store = SqliteStore(path)
        store.runs(include_deleted=True)
        store.registered_models()


def test_text_that_is_not_utf8_is_read_with_replacement_and_one_warning(fixture_copy):
    db = fixture_copy / "mlflow.db"
    store = SqliteStore(db)
    run_id = store.runs()[0].run_id
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO tags (key, value, run_uuid) VALUES ('bad', CAST(X'66ff6f' AS TEXT), ?)",
            (run_id,),
        )
    conn.close()
    store = SqliteStore(db)
    assert store.run(run_id).tags["bad"] == "f\ufffdo"
    assert len(store.runs(include_deleted=True)) > 1
    assert len(store.warnings.messages) == 1


def test_rows_of_runs_that_do_not_exist_are_ignored(fixture_copy):
    db = fixture_copy / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        _add_tag(conn, "f" * 32, "orphan", "x")
        conn.execute(
            "INSERT INTO params (key, value, run_uuid) VALUES ('orphan', 'x', ?)", ("f" * 32,)
        )
    conn.close()
    store = SqliteStore(db)
    # Small batches: after the first, the rest is read in one pass over each table.
    runs = [r for b in store.iter_runs(include_deleted=True, batch_size=2) for r in b]
    assert len(runs) == len(expected_reading(fixture_copy)["runs"])
    assert all("orphan" not in r.tags and "orphan" not in r.params for r in runs)


# -- reading leaves the store exactly as it was ------------------------------------------------
def test_reading_never_modifies_the_database_or_adds_files(fixture_copy):
    before = _state(fixture_copy)
    store = SqliteStore(fixture_copy / "mlflow.db")
    reading = reading_of(store)
    for run in reading["runs"]:
        store.artifact_root(store.run(run["run_id"]))
    store.logged_models(include_deleted=True)
    store.registered_models(include_prompts=True)
    store.close()
    assert _state(fixture_copy) == before


def test_a_wal_database_is_read_without_creating_wal_files(fixture_copy):
    db = fixture_copy / "mlflow.db"
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    conn.close()  # a clean close removes -wal and -shm
    before = _state(fixture_copy)
    assert not any(name.endswith(("-wal", "-shm")) for name in before)

    store = SqliteStore(db)
    runs = store.runs(include_deleted=True)
    assert len(runs) == len(expected_reading(fixture_copy)["runs"])
    assert any("immutable" in note for note in store.notes)
    assert _state(fixture_copy) == before

    # A writer opening the database brings -wal back; the store then reads what it commits.
    writer = sqlite3.connect(db, timeout=5)
    _add_tag(writer, runs[0].run_id, "after", "wal")
    writer.commit()
    try:
        assert store.run(runs[0].run_id).tags["after"] == "wal"
    finally:
        store.close()
        writer.close()


# -- values of the wrong type or out of range --------------------------------------------------
#: What a hand-edited or foreign database can hold in any column (SQLite keeps any type anywhere).
HOSTILE_VALUES = {
    "int": 7,
    "huge int": 2**63 - 1,  # as a time: past year 9999
    "inf": math.inf,
    "text": "abc",
    "blob": b"\x00\xff\x1b]0;x\x07",
    "NULL": None,
}
SWEPT_TABLES = ("runs", "params", "tags", "metrics", "latest_metrics", "experiments")


def _loosened(db: Path) -> list[tuple[str, str]]:
    """Drop NOT NULL from the swept tables (so NULL can go anywhere); their (table, column)s.

    Only the runs whose rows `_set_one` changes are kept (and one more), so that the sweep's
    200-odd readings and exports take seconds.
    """
    conn = sqlite3.connect(db, isolation_level=None)
    last = "WHERE rowid = (SELECT max(rowid) FROM {0})"
    keep = {
        conn.execute(f"SELECT run_uuid FROM {table} {last.format(table)}").fetchone()[0]
        for table in ("runs", "params", "tags", "metrics", "latest_metrics")
    }
    keep.add(conn.execute("SELECT run_uuid FROM runs ORDER BY rowid LIMIT 1").fetchone()[0])
    marks = ",".join("?" * len(keep))
    for table in ("runs", "params", "tags", "metrics", "latest_metrics"):
        conn.execute(f"DELETE FROM {table} WHERE run_uuid NOT IN ({marks})", list(keep))
    conn.execute("VACUUM")
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'NOT NULL', '') "
        f"WHERE type = 'table' AND name IN ({','.join('?' * len(SWEPT_TABLES))})",
        SWEPT_TABLES,
    )
    conn.execute("PRAGMA writable_schema = OFF")
    conn.close()
    conn = sqlite3.connect(db)
    columns = [
        (table, row[1])
        for table in SWEPT_TABLES
        for row in conn.execute(f'PRAGMA table_info("{table}")')
    ]
    conn.close()
    return columns


def _set_one(db: Path, table: str, column: str, value) -> bool:
    """Set `column` of the last row of `table`; False when SQLite refuses (a rowid column)."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("PRAGMA synchronous = OFF")  # a scratch copy: no need to wait for the disk
    try:
        conn.execute(
            f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = (SELECT max(rowid) FROM "{table}")',
            (value,),
        )
        return True
    except sqlite3.IntegrityError:  # "datatype mismatch": experiment_id is the rowid
        return False
    finally:
        conn.close()


@pytest.mark.parametrize("swept", SWEPT_TABLES)
def test_every_column_holding_every_type_reads_and_exports(fixture_copy, capsys, swept):
    """Each (column, value) of a table on its own: export and reading both finish.

    Before values were checked, 40 of the 229 combinations SQLite takes raised mid-export or
    mid-reading (text or a blob as a time, a time past year 9999, text as a metric value, ...).
    """
    db = fixture_copy / "mlflow.db"
    columns = _loosened(db)
    pristine = db.read_bytes()
    failures, tried = [], 0
    for table, column in columns:
        if table != swept:
            continue
        for label, value in HOSTILE_VALUES.items():
            db.write_bytes(pristine)
            if not _set_one(db, table, column, value):
                continue
            tried += 1
            problems = problems_reading(db, capsys, "--history")
            if problems:
                failures.append(f"{table}.{column} = {label}: {'; '.join(problems)}")
    assert tried >= 3 * len(HOSTILE_VALUES)
    assert not failures, f"{len(failures)} of {tried} failed:\n" + "\n".join(failures)


def test_values_of_the_wrong_type_are_named_and_the_rest_read(fixture_copy, capsys):
    from tui.cli import main
    from tui.text import format_time

    db = fixture_copy / "mlflow.db"
    before = SqliteStore(db).runs(include_deleted=True)
    run_id = before[0].run_id
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE runs SET start_time = 'abc' WHERE run_uuid = ?", (run_id,))
    conn.execute("UPDATE params SET value = x'00ff41' WHERE run_uuid = ?", (run_id,))
    conn.execute("UPDATE latest_metrics SET value = 'abc' WHERE run_uuid = ?", (run_id,))
    conn.execute("UPDATE experiments SET last_update_time = 99999999999999999")
    conn.close()
    store = SqliteStore(db)
    runs = {r.run_id: r for r in store.runs(include_deleted=True)}
    assert set(runs) == {r.run_id for r in before}
    run = runs[run_id]
    assert run.start_time is None and run.metrics == {}
    assert all(v == "\x00\ufffdA" for v in run.params.values())
    warned = store.warnings.messages
    assert any(run_id in m and "start_time 'abc' is not a time" in m for m in warned)
    assert any(run_id in m and "is not text; shown as text" in m for m in warned)
    assert any(run_id in m and "value 'abc'" in m and "skipped" in m for m in warned)
    exp = store.experiments()[0]
    assert format_time(exp.last_update_time) == "invalid time 99999999999999999"
    assert main(["export", str(db), "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    assert f"{run_id}" in out and "start_time 'abc'" in err
