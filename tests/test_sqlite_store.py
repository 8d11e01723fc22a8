"""SqliteStore reads every fixture database exactly as MlflowClient read it (expected.json)."""

from __future__ import annotations

import math
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mltui.store import open_store
from mltui.store.sqlite.reader import KNOWN_REVISIONS, SqliteStore
from tests.conftest import FIXTURE_STORES, copy_fixture, expected_reading, store_path
from tests.readings import assert_same_reading as check_reading
from tests.readings import jsonable_float

SQLITE_FIXTURES = [p for p in FIXTURE_STORES if (p / "mlflow.db").is_file()]
#: The alembic head each MLflow release leaves its database at.
HEADS = {
    "1.30.1": "97727af70f4d",
    "2.22.5": "0584bdc529eb",
    "3.17.2": "dc11669786a5",
    "3.18.0": "f4a9b2c7d1e6",
}


def assert_same_reading(store: SqliteStore, fixture: Path) -> None:
    check_reading(store, expected_reading(fixture))


@pytest.fixture(params=SQLITE_FIXTURES, ids=[p.name for p in SQLITE_FIXTURES])
def fixture_dir(request) -> Path:
    return request.param


@pytest.fixture
def store(fixture_dir):
    s = SqliteStore(fixture_dir / "mlflow.db")
    yield s
    s.close()


def version_of(fixture_dir: Path) -> str:
    return fixture_dir.name.split("-")[1]


def test_fixture_sqlite_stores_exist():
    versions = {version_of(p) for p in SQLITE_FIXTURES}
    assert {"2.22.5", "3.17.2", "3.18.0"} <= versions


def test_reading_equals_mlflows(store, fixture_dir):
    assert_same_reading(store, fixture_dir)
    assert store.warnings.messages == []


def test_fresh_store_reading_equals_mlflows(fresh_mlflow_stores):
    fixture = fresh_mlflow_stores["sqlite"]
    with_store = SqliteStore(fixture / "mlflow.db")
    assert_same_reading(with_store, fixture)
    assert with_store.known_revision


def test_schema_revision_is_known(store, fixture_dir):
    assert store.schema_revision == HEADS[version_of(fixture_dir)]
    assert store.known_revision
    assert store.schema_revision in KNOWN_REVISIONS


def test_non_finite_metrics_read_as_mlflow_returns_them(store):
    edge = next(r for r in store.runs() if r.run_name == "[bold]x[/bold]")
    assert math.isnan(edge.metrics["nan"].value)
    assert math.isnan(edge.metrics["nan_last"].value)
    # The SQL store clamps infinities to the largest double and MLflow returns them so.
    assert edge.metrics["neg_inf"].value == -1.7976931348623157e308
    history = store.metric_history(edge.run_id, "with_inf")
    assert [m.value for m in history] == [1.0, 1.7976931348623157e308, 2.0]
    # Latest by (step, timestamp, value), not the last one logged.
    assert edge.metrics["out_of_order"].value == 0.5
    assert edge.metrics["out_of_order"].step == 3
    assert edge.metrics["tie"].value == 0.7


def test_metric_history_order_is_timestamp_step_value(store):
    edge = next(r for r in store.runs() if r.run_name == "[bold]x[/bold]")
    points = store.metric_history(edge.run_id, "out_of_order")
    assert [(m.timestamp, m.step, m.value) for m in points] == sorted(
        (m.timestamp, m.step, m.value) for m in points
    )
    assert [m.value for m in points] == [2.0, 1.0, 0.5, 9.0]
    assert store.metric_history(edge.run_id, "no such metric") == []
    assert store.metric_history("0" * 32, "out_of_order") == []


def test_deleted_runs_and_experiments(store):
    active = store.runs()
    everything = store.runs(include_deleted=True)
    assert {r.lifecycle_stage for r in active} == {"active"}
    deleted = {r.run_name for r in everything if r.lifecycle_stage == "deleted"}
    assert deleted == {"old-failed", "old-finished", "deleted-run"}
    gone = next(
        e for e in store.experiments(include_deleted=True) if e.lifecycle_stage == "deleted"
    )
    assert gone.experiment_id not in {e.experiment_id for e in store.experiments()}
    assert not [r for r in active if r.experiment_id == gone.experiment_id]
    # Asked for by id, a deleted experiment's runs are there with include_deleted.
    assert {r.run_name for r in store.runs([gone.experiment_id], include_deleted=True)} == {
        "old-failed",
        "old-finished",
    }
    assert store.runs(["not-a-number"]) == []


def _summary(run):
    return (run.run_id, run.params, run.tags, {k: m.value for k, m in run.metrics.items()})


@pytest.mark.parametrize("batch_size", [1, 4, 25, 1000])
def test_batches_hold_the_same_runs_as_single_reads(store, batch_size):
    batches = list(store.iter_runs(include_deleted=True, batch_size=batch_size))
    assert all(0 < len(b) <= batch_size for b in batches)
    runs = [r for b in batches for r in b]
    assert len({r.run_id for r in runs}) == len(runs)
    for run in runs:
        single = store.run(run.run_id)
        assert repr(_summary(run)) == repr(_summary(single))
        assert run.inputs == single.inputs
        assert run.outputs == single.outputs


def test_one_experiment_among_many_reads_by_id(store):
    sweep = next(e for e in store.experiments() if e.name == "elasticnet-sweep")
    # Small batches over a small part of the table, each run read by id.
    runs = [r for b in store.iter_runs([sweep.experiment_id], batch_size=2) for r in b]
    assert sorted(r.run_name for r in runs) == [f"sweep-{i}" for i in range(6)]
    assert all(len(r.params) > 0 and len(r.metrics) > 0 for r in runs)


def test_runs_come_newest_first(store):
    starts = [r.start_time for r in store.runs(include_deleted=True)]
    assert starts == sorted(starts, reverse=True)


def test_registry_latest_versions_and_aliases(store, fixture_dir):
    models = {m.name: m for m in store.registered_models()}
    wine = models["wine-classifier"]
    stages = {v.current_stage: v.version for v in wine.latest_versions}
    assert stages["Production"] == "2"
    assert stages["Staging"] == "4"
    versions = store.model_versions("wine-classifier")
    assert [v.version for v in versions] == sorted(
        (v.version for v in versions), key=int, reverse=True
    )
    assert "3" not in {v.version for v in versions}  # deleted
    if version_of(fixture_dir) != "1.30.1":
        assert wine.aliases == {"champion": "2", "challenger": "4"}
        v2 = next(v for v in versions if v.version == "2")
        assert v2.aliases == ["champion"]
        assert v2.tags == {"validated": "true"}
    assert store.model_versions("no such model") == []


def test_logged_models_and_run_outputs(store, fixture_dir):
    logged = store.logged_models()
    if version_of(fixture_dir) < "3":
        assert logged == []
        return
    assert logged and all(m.status == "READY" for m in logged)
    by_id = {m.model_id: m for m in logged}
    outputs = [o for r in store.runs() for o in r.outputs]
    assert outputs and all(o.model_id in by_id for o in outputs)
    one = logged[0]
    assert store.logged_models([one.experiment_id])
    assert store.logged_models(["123456"]) == []


def test_artifact_root_of_a_relocated_store(store, fixture_dir):
    edge = next(r for r in store.runs() if r.run_name == "[bold]x[/bold]")
    root = store.artifact_root(edge)
    assert root.path is not None, root.note
    assert (root.path / "notes.txt").is_file()
    assert fixture_dir.resolve() in root.path.resolve().parents


def test_reads_from_many_threads_at_once(store):
    expected = sorted(map(repr, map(_summary, store.runs(include_deleted=True))))
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                got = store.runs(include_deleted=True)
                results.append(sorted(map(repr, map(_summary, got))))
                store.metric_history(got[0].run_id, next(iter(got[0].metrics), "x"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == expected for r in results)


def _copy_db(fixture_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / fixture_dir.name
    shutil.copytree(fixture_dir, target)
    return target / "mlflow.db"


def test_without_latest_metrics_table_latest_is_computed(fixture_dir, tmp_path):
    """Early 1.x databases have no latest_metrics: the latest point is computed as MLflow did."""
    db = _copy_db(fixture_dir, tmp_path)
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE latest_metrics")
    conn.close()
    store = SqliteStore(db)
    expected = {r["run_id"]: r["metrics"] for r in expected_reading(fixture_dir)["runs"]}
    runs = store.runs(include_deleted=True)
    assert len(runs) == len(expected)
    for run in runs:
        ours = {k: jsonable_float(m.value) for k, m in run.metrics.items()}
        assert ours == expected[run.run_id], run.run_name


def test_tables_of_older_schemas_may_be_missing(fixture_dir, tmp_path):
    """Datasets/inputs (2.4+), logged models (3.0+), aliases (2.3+) are optional."""
    db = _copy_db(fixture_dir, tmp_path)
    conn = sqlite3.connect(db)
    for table in (
        "input_tags",
        "inputs",
        "datasets",
        "logged_model_metrics",
        "logged_model_params",
        "logged_model_tags",
        "logged_models",
        "registered_model_aliases",
        "experiment_tags",
    ):
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.commit()
    conn.close()
    store = SqliteStore(db)
    runs = store.runs(include_deleted=True)
    assert len(runs) == len(expected_reading(fixture_dir)["runs"])
    assert all(r.inputs == [] and r.outputs == [] for r in runs)
    assert store.logged_models() == []
    assert all(m.aliases == {} for m in store.registered_models())
    assert all(e.tags == {} for e in store.experiments())


def test_prompts_are_left_out_of_registered_models(fixture_dir, tmp_path):
    db = _copy_db(fixture_dir, tmp_path)
    conn = sqlite3.connect(db)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(registered_model_tags)")]
    row = {"key": "mlflow.prompt.is_prompt", "value": "true", "name": "churn-model"}
    if "workspace" in cols:
        row["workspace"] = "default"
    marks = ", ".join("?" * len(row))
    conn.execute(
        f"INSERT INTO registered_model_tags ({', '.join(row)}) VALUES ({marks})", list(row.values())
    )
    conn.commit()
    conn.close()
    store = SqliteStore(db)
    assert [m.name for m in store.registered_models()] == ["wine-classifier"]
    assert [m.name for m in store.registered_models(include_prompts=True)] == [
        "churn-model",
        "wine-classifier",
    ]


def test_opening_keeps_the_locks_this_process_holds_on_the_database(tmp_path):
    """A write of ours (the registry writer's) holds SQLite's lock; opening the store meanwhile
    (open_store sniffs the file, SqliteStore reads its header) must not drop it: closing any
    descriptor of the file drops every POSIX lock of the process, and another process's commit
    then lands in the middle of ours (MLflow's failed with "disk I/O error" in the soak)."""
    db = store_path(copy_fixture("mlflow-3.18.0-sqlite", tmp_path))
    probe = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], timeout=0)\n"
        "try:\n    c.execute('BEGIN IMMEDIATE')\n"
        "except sqlite3.OperationalError as e:\n    print(e)\n"
        "else:\n    print('got the lock')\n"
    )

    def other_process_writes() -> str:
        done = subprocess.run([sys.executable, "-c", probe, str(db)], capture_output=True)
        return done.stdout.decode().strip()

    ours = sqlite3.connect(db, isolation_level=None)
    try:
        ours.execute("BEGIN IMMEDIATE")
        ours.execute("UPDATE registered_models SET description = 'ours'")
        assert other_process_writes() == "database is locked"
        for _ in range(2):  # a first open, and one reusing what the first kept
            open_store(db).close()
        assert other_process_writes() == "database is locked"
        ours.execute("COMMIT")
    finally:
        ours.close()
