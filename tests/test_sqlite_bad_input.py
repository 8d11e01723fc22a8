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
import time
from pathlib import Path

import pytest

from mltui.store.errors import NotAStoreError, StoreError
from mltui.store.sqlite import runs as sqlite_runs
from mltui.store.sqlite.reader import SqliteStore
from mltui.store.sqlite.registry import SqliteRegistryBackend
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


def test_a_read_waits_out_a_writer_holding_the_lock_longer_than_sqlites_own_wait(fixture_copy):
    db = fixture_copy / "mlflow.db"
    store = SqliteStore(db)  # the default patience
    run_id = store.runs()[0].run_id
    writer = sqlite3.connect(db, timeout=10, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN EXCLUSIVE")
    _add_tag(writer, run_id, "written", "while locked")
    # Longer than a read used to wait before saying "locked" (2 s), shorter than it now does.
    release = threading.Timer(2.5, writer.execute, ("COMMIT",))
    release.start()
    try:
        assert store.run(run_id).tags["written"] == "while locked"
    finally:
        release.join()
        writer.close()
        store.close()


def test_closing_the_store_ends_a_read_waiting_for_a_writer(fixture_copy):
    db = fixture_copy / "mlflow.db"
    store = SqliteStore(db, busy_timeout=60)
    writer = sqlite3.connect(db, timeout=10, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    errors: list[Exception] = []

    def read() -> None:
        try:
            store.runs()
        except StoreError as exc:
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        store.close()
        reader.join(timeout=30)  # far less than the 60 s it would otherwise wait
        assert not reader.is_alive()
        assert errors and "closed" in str(errors[0])
    finally:
        writer.execute("ROLLBACK")
        writer.close()


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


def _log_generation(conn: sqlite3.Connection, run_id: str, gen: int) -> None:
    """Set one run's name, a param, a tag and a latest metric to `gen`, in the caller's
    transaction: a consistent reading of the run shows the same number in all four."""
    conn.execute("UPDATE runs SET name = ? WHERE run_uuid = ?", (f"gen{gen}", run_id))
    for table in ("params", "tags"):
        conn.execute(
            f"INSERT OR REPLACE INTO {table} (key, value, run_uuid) VALUES ('gen', ?, ?)",
            (str(gen), run_id),
        )
    conn.execute(
        "INSERT OR REPLACE INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
        "VALUES ('gen', ?, 0, ?, 0, ?)",
        (float(gen), gen, run_id),
    )


def test_a_full_read_is_consistent_per_run_while_a_writer_commits_and_locks(
    fixture_copy, monkeypatch
):
    monkeypatch.setattr(sqlite_runs, "RUNS_PER_TRANSACTION", 3)  # many transactions
    db = fixture_copy / "mlflow.db"
    run_ids = [r.run_id for r in SqliteStore(db).runs(include_deleted=True)]
    with sqlite3.connect(db) as setup:
        for rid in run_ids:
            _log_generation(setup, rid, 0)
    setup.close()
    done = threading.Event()
    commits: list[int] = []
    writer_errors: list[Exception] = []

    def write() -> None:
        conn = sqlite3.connect(db, timeout=10, isolation_level=None)
        gen = 0
        try:
            while not done.is_set():
                gen += 1
                # Every 20th commit holds the lock a moment, beyond one try of a read.
                exclusive = gen % 20 == 0
                conn.execute("BEGIN EXCLUSIVE" if exclusive else "BEGIN IMMEDIATE")
                _log_generation(conn, run_ids[gen % len(run_ids)], gen)
                if exclusive:
                    done.wait(0.2)
                conn.execute("COMMIT")
                commits.append(gen)
                done.wait(0.002)  # a training step between two logs
        except sqlite3.Error as exc:  # pragma: no cover - reported below
            writer_errors.append(exc)
        finally:
            conn.close()

    store = SqliteStore(db)
    writer = threading.Thread(target=write)
    writer.start()
    try:
        # Read until the writer has gone through two of its locked moments (or a minute).
        deadline = time.monotonic() + 60
        while len(commits) < 45 and time.monotonic() < deadline:
            runs = store.runs(include_deleted=True)
            assert sorted(r.run_id for r in runs) == sorted(run_ids)
            for run in runs:
                gen = run.params["gen"]
                assert run.run_name == f"gen{gen}" and run.tags["gen"] == gen, run.run_id
                assert run.metrics["gen"].value == float(gen), run.run_id
    finally:
        done.set()
        writer.join()
        store.close()
    assert not writer_errors
    assert len(commits) >= 45  # the writer was not kept out


def test_a_full_read_holds_no_transaction_over_more_than_a_chunk_of_runs(fixture_copy, monkeypatch):
    db = fixture_copy / "mlflow.db"
    with sqlite3.connect(db) as conn:
        # 600 more runs, each with a param, a tag and a metric, as MLflow would write them.
        exp_id = conn.execute("SELECT min(experiment_id) FROM experiments").fetchone()[0]
        for i in range(600):
            rid = f"{i:032x}"
            conn.execute(
                "INSERT INTO runs (run_uuid, name, status, start_time, lifecycle_stage, "
                "experiment_id, artifact_uri) VALUES (?, ?, 'FINISHED', ?, 'active', ?, '')",
                (rid, f"bulk{i}", i, exp_id),
            )
            _log_generation(conn, rid, i)
    conn.close()
    monkeypatch.setattr(sqlite_runs, "RUNS_PER_TRANSACTION", 50)
    store = SqliteStore(db)
    transactions: list[list[str]] = []

    def trace(sql: str) -> None:
        if sql == "BEGIN":
            transactions.append([])
        elif sql.startswith("SELECT"):
            transactions[-1].append(sql)

    store._connection().set_trace_callback(trace)
    runs = store.runs(include_deleted=True)
    store.close()
    assert len(runs) == len(expected_reading(fixture_copy)["runs"]) + 600
    # One transaction lists the ids; every later one reads at most 50 runs, by id.
    assert len(transactions) >= 1 + len(runs) / 50
    for statements in transactions[1:]:
        for sql in statements:
            table = sql.split(" FROM ")[1].split()[0]
            if table in ("runs", "params", "tags", "latest_metrics"):
                assert "IN (" in sql and sql.count("?") <= 50, sql[:80]


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
    # Small batches: rows whose run does not exist are never asked for, nor shown.
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
    from mltui.tui.cli import main
    from mltui.tui.text import format_time

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


def test_a_wal_database_with_a_leftover_shm_and_no_wal_is_read_without_creating_one(
    fixture_copy,
):
    db = fixture_copy / "mlflow.db"
    writer = sqlite3.connect(db)
    assert writer.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    writer.execute("SELECT count(*) FROM runs").fetchone()
    shm = (fixture_copy / "mlflow.db-shm").read_bytes()
    writer.close()  # removes -wal and -shm; a crash would have left the -shm
    (fixture_copy / "mlflow.db-shm").write_bytes(shm)
    before = _state(fixture_copy)
    store = SqliteStore(db)
    assert len(store.runs(include_deleted=True)) == len(expected_reading(fixture_copy)["runs"])
    store.close()
    assert _state(fixture_copy) == before


def _wal_with_commits_but_no_shm(folder: Path, run_id: str) -> None:
    """Leave `folder/mlflow.db` in WAL mode with a commit only in its -wal and no -shm.

    The state a writer killed mid-session leaves (or a copy taken while it ran): the -wal
    holds a committed tag that was never checkpointed into the database file.
    """
    db = folder / "mlflow.db"
    aside = folder / "aside"
    aside.mkdir()
    writer = sqlite3.connect(db, isolation_level=None)
    assert writer.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
    writer.execute("PRAGMA wal_autocheckpoint = 0")  # the commit stays in the -wal
    _add_tag(writer, run_id, "only_in_wal", "committed")
    for name in ("mlflow.db", "mlflow.db-wal"):  # while the writer holds them, idle
        shutil.copy2(folder / name, aside / name)
    writer.close()  # checkpoints and removes -wal and -shm: put the copies back instead
    for name in ("mlflow.db", "mlflow.db-wal"):
        (aside / name).replace(folder / name)
    aside.rmdir()
    assert not (folder / "mlflow.db-shm").exists()


def test_a_wal_with_commits_and_no_shm_is_read_whole_without_creating_files(fixture_copy):
    db = fixture_copy / "mlflow.db"
    run_id = SqliteStore(db).runs()[0].run_id
    _wal_with_commits_but_no_shm(fixture_copy, run_id)
    before = _state(fixture_copy)

    store = SqliteStore(db)
    # The commit only in the -wal is read, and reading everything creates or changes nothing.
    assert store.run(run_id).tags["only_in_wal"] == "committed"
    reading = reading_of(store)
    assert len(reading["runs"]) == len(expected_reading(fixture_copy)["runs"])
    store.logged_models(include_deleted=True)
    store.registered_models(include_prompts=True)
    assert _state(fixture_copy) == before
    assert any("no -shm" in note for note in store.notes)
    assert not store.warnings.messages

    # A writer appearing makes the -shm; the store reopens normally and reads its commits.
    writer = sqlite3.connect(db, timeout=5, isolation_level=None)
    _add_tag(writer, run_id, "later", "seen")
    try:
        assert store.run(run_id).tags["later"] == "seen"
    finally:
        store.close()
        writer.close()


#: Another process's last connection: on closing, SQLite checkpoints the -wal and deletes it
#: (with -shm) when it can lock the database file exclusively, that is, when no process holds a
#: lock on it.
LAST_CONNECTION = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=0.5)
conn.execute("SELECT count(*) FROM runs").fetchone()
conn.close()
"""
COUNT_OURS = """
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM tags WHERE key = 'ours'").fetchone()[0])
"""


def _in_other_process(code: str, db: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("files", ["-wal, no -shm", "neither -wal nor -shm"])
def test_a_lock_free_reading_never_drops_our_writers_locks(fixture_copy, files):
    """POSIX locks belong to the process: closing any descriptor of the database drops all the
    locks it holds there. A store read lock-free (no -shm: unix-none with a -wal, immutable
    without) reopens normally once our registry writer makes the -shm; the connection it
    leaves must not take the writer's locks with it, or another process's last connection
    deletes the -wal under the write in flight, and the write is lost."""
    db = fixture_copy / "mlflow.db"
    run_id = SqliteStore(db).runs()[0].run_id
    if files == "-wal, no -shm":
        _wal_with_commits_but_no_shm(fixture_copy, run_id)
    else:
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
        conn.close()  # removes -wal and -shm
    store = SqliteStore(db)
    store.runs()
    assert any("WAL mode with no" in note for note in store.notes)
    writer = SqliteRegistryBackend(db, 5.0)._connect(write=True)
    writer.execute("BEGIN IMMEDIATE")
    _add_tag(writer, run_id, "ours", "kept")
    store.run(run_id)  # the writer made a -shm: the store reopens normally
    _in_other_process(LAST_CONNECTION, db)
    assert (fixture_copy / "mlflow.db-wal").exists(), "the -wal was deleted under our write"
    writer.execute("COMMIT")
    writer.close()
    store.close()
    assert _in_other_process(COUNT_OURS, db).strip() == "1", "our committed write was lost"


def test_without_a_lock_free_way_the_wal_commits_not_shown_are_named(fixture_copy, monkeypatch):
    db = fixture_copy / "mlflow.db"
    run_id = SqliteStore(db).runs()[0].run_id
    _wal_with_commits_but_no_shm(fixture_copy, run_id)
    before = _state(fixture_copy)
    real_connect = SqliteStore._connect

    def no_unix_none(self, options):  # as on a platform without SQLite's unix-none VFS
        if "unix-none" in options:
            raise StoreError("no such vfs: unix-none")
        return real_connect(self, options)

    monkeypatch.setattr(SqliteStore, "_connect", no_unix_none)
    store = SqliteStore(db)
    assert "only_in_wal" not in store.run(run_id).tags
    assert len(store.runs(include_deleted=True)) == len(expected_reading(fixture_copy)["runs"])
    assert [w for w in store.warnings.messages if "-wal holds commits" in w]
    store.close()
    assert _state(fixture_copy) == before
