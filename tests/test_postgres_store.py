"""PostgresStore reads a PostgreSQL database exactly as MlflowClient reads it.

A real PostgreSQL server runs for the session (tests/postgres_server.py) and MLflow itself fills
a database with the fixture content (tests/fixtures/make_fixtures.py --backend postgres), writing
its own reading beside it (expected.json): experiments, search_runs/get_run, get_metric_history,
search_logged_models, search_registered_models/get_model_version.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mltui.store import StoreError, open_store
from mltui.store.errors import NotAStoreError
from mltui.store.postgres.connect import AuthenticationFailed, DatabaseUnreachable
from mltui.store.postgres.store import PostgresStore
from mltui.store.registry import RegistryWriter
from mltui.tui.cli import main
from tests.postgres_server import PASSWORD
from tests.readings import assert_same_reading

# One pytest-xdist worker takes them all (pyproject's --dist loadgroup): one server and one
# database filled by MLflow (about 20 s) for the session instead of one per worker.
pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture(scope="module")
def pg(postgres_mlflow_store):
    uri, folder = postgres_mlflow_store
    return uri, json.loads((folder / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture
def store(pg):
    s = PostgresStore(pg[0])
    yield s
    s.close()


def export(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["export", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_reading_equals_mlflows(store, pg):
    assert_same_reading(store, pg[1])
    assert store.warnings.messages == []
    assert store.known_revision and store.kind == "postgres"


def test_experiment_activity_counted_by_the_server_equals_counting_the_runs(store):
    """The SQL aggregate (SQLite's typeof guard rewritten for PostgreSQL) against the base
    class's count over the runs themselves."""
    from mltui.store.base import Store

    for deleted in (False, True):
        ours = store.experiment_activity(include_deleted=deleted)
        assert ours == Store.experiment_activity(store, include_deleted=deleted)
        assert ours


def test_export_equals_mlflows_search_runs_and_histories(pg, capsys):
    uri, expected = pg
    code, records, err = export(capsys, uri, "--all", "--history")
    assert code == 0, err
    want = {r["run_id"]: r for r in expected["runs"]}
    assert sorted(r["run_id"] for r in records) == sorted(want)
    fields = ("experiment_id", "run_name", "status", "lifecycle_stage", "start_time",
              "end_time", "params", "metrics", "tags")  # fmt: skip
    for record in records:
        run = want[record["run_id"]]
        assert {f: record[f] for f in fields} == {f: run[f] for f in fields}
        history = {k: sorted(points) for k, points in record["history"].items()}
        assert history == expected["metric_history"][record["run_id"]], record["run_id"]


def test_export_of_logged_models_equals_mlflows_search(pg, capsys):
    uri, expected = pg
    code, records, err = export(capsys, uri, "--logged-models")
    assert code == 0, err
    got = sorted(records, key=lambda r: r["model_id"])
    assert len(got) == len(expected["logged_models"]) == 4
    for record, want in zip(got, expected["logged_models"], strict=True):
        shared = sorted(set(record) & set(want))
        assert len(shared) >= 7, shared  # the export adds metrics, leaves out locations
        assert {k: record[k] for k in shared} == {k: want[k] for k in shared}


@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg", "postgresql+psycopg2"])
def test_every_uri_spelling_opens_the_store(postgres_server, pg, scheme):
    uri = postgres_server.uri("mlflow", scheme=scheme)
    store = open_store(uri)
    try:
        assert isinstance(store, PostgresStore)
        assert len(store.experiments(include_deleted=True)) == len(pg[1]["experiments"])
        assert PASSWORD not in str(store.location)
        assert str(store.location) == f"{scheme}://postgres@127.0.0.1:{postgres_server.port}/mlflow"
    finally:
        store.close()


def test_password_from_pgpassword_or_pgpass(postgres_server, pg, monkeypatch, tmp_path):
    uri = postgres_server.uri("mlflow", password=None)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    PostgresStore(uri).close()
    monkeypatch.delenv("PGPASSWORD")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_server.port}:*:postgres:{PASSWORD}\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    PostgresStore(uri).close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_errors_are_one_sentence_without_the_password(postgres_server, pg, capsys):
    cases = [
        (postgres_server.uri("mlflow", password="wrong-pw"), AuthenticationFailed,
         "refused the user name or password"),
        (postgres_server.uri("mlflow", password=None), AuthenticationFailed,
         "refused the user name or password"),
        (postgres_server.uri("no_such_db"), NotAStoreError, "no database no_such_db"),
        (f"postgresql://postgres:{PASSWORD}@127.0.0.1:{_closed_port()}/mlflow",
         DatabaseUnreachable, "nothing listens at that address"),
        (f"postgresql://postgres:{PASSWORD}@127.0.0.1:99999/mlflow", NotAStoreError,
         'the URI is not valid (invalid port number: "99999")'),
        (f"postgres://postgres:{PASSWORD}@no-such-host.invalid/mlflow", DatabaseUnreachable,
         "the host name is unknown"),
    ]  # fmt: skip
    for uri, kind, words in cases:
        with pytest.raises(kind) as caught:
            open_store(uri)
        message = str(caught.value)
        assert words in message and "\n" not in message
        assert PASSWORD not in message and "wrong-pw" not in message
        code, records, err = export(capsys, uri)
        assert code == 2 and records == []
        assert err.count("\n") == 1 and words in err and "pw" not in err
        assert message.startswith(f"cannot open {re.sub(r':[^:@/]*@', '@', uri, count=1)}: ")


def test_a_server_that_never_answers_times_out():
    """A listening socket that never speaks: the URI's connect_timeout ends the wait."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        uri = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/mlflow?connect_timeout=2"
        with pytest.raises(DatabaseUnreachable) as caught:
            PostgresStore(uri)
    assert str(caught.value) == (
        f"cannot open postgresql://postgres@127.0.0.1:{port}/mlflow?connect_timeout=2: "
        "the server did not answer within 2 s"
    )


def test_not_an_mlflow_database(postgres_server):
    uri = postgres_server.create_database("empty_db")
    with pytest.raises(NotAStoreError, match="is an empty PostgreSQL database, not MLflow's"):
        open_store(uri)
    postgres_server.execute("empty_db", "CREATE TABLE experiments (id integer)")
    with pytest.raises(NotAStoreError) as caught:
        open_store(uri)
    assert str(caught.value) == (
        f"{postgres_server.uri('empty_db', password=None)} is not an MLflow database "
        "(no experiments.experiment_id, experiments.name, runs.run_uuid)"
    )


def test_a_newer_schema_is_read_with_a_warning(postgres_server, pg):
    postgres_server.execute("postgres", 'CREATE DATABASE "newer" TEMPLATE "mlflow"')
    postgres_server.execute("newer", "UPDATE alembic_version SET version_num = 'ffff00000000'")
    store = PostgresStore(postgres_server.uri("newer"))
    try:
        assert not store.known_revision
        assert store.warnings.messages == [
            f"{store.location} has schema revision ffff00000000, unknown to mltui (a newer "
            "MLflow?); reading the tables and columns it recognises"
        ]
        assert len(store.runs(include_deleted=True)) == len(pg[1]["runs"])
    finally:
        store.close()


def test_reads_are_in_read_only_transactions(store):
    with pytest.raises(StoreError, match="read-only transaction"):
        store.read(lambda conn: conn.execute("CREATE TABLE mltui_was_here (a integer)"))
    assert store.experiments()  # the connection is usable after the refusal


def test_registry_writes_are_planned(store):
    """Planning reads the registry and writes nothing (writes: tests/test_postgres_registry.py)."""
    writer = RegistryWriter(store)
    assert writer.refusal() is None
    plan = writer.plan_set_model_tag("churn-model", "k", "v")
    assert plan.changes == ("churn-model: tag k = 'v' (new)",)


def test_a_dropped_connection_is_made_again(store, postgres_server):
    before = len(store.experiments())
    postgres_server.execute(
        "postgres",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = 'mlflow' AND pid <> pg_backend_pid()",
    )
    with pytest.raises(DatabaseUnreachable) as caught:  # the read meeting the closed connection
        store.experiments()
    message = str(caught.value)
    assert message.startswith(f"lost the connection to {store.location} (")
    assert message.endswith("); the next read connects again") and "\n" not in message
    assert len(store.experiments()) == before


def test_reads_from_many_threads_at_once(store, pg):
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: len(store.runs(include_deleted=True)), range(4)))
    assert counts == [len(pg[1]["runs"])] * 4


def test_artifact_roots_this_machine_cannot_reach_are_named(store, pg):
    run = next(r for r in store.runs() if r.run_name == "hello-default")
    root = store.artifact_root(run)
    assert root.path is None and root.recorded == run.artifact_uri
    assert root.note and Path(run.artifact_uri).as_posix() in root.note


def test_mlflow_tracking_uri_naming_postgresql_is_opened(tmp_path):
    from mltui.store.locate import default_store_target

    uri = "postgresql://me@db.example/mlflow"
    assert default_store_target({"MLFLOW_TRACKING_URI": uri}, tmp_path) == uri


@pytest.mark.anyio
async def test_the_app_browses_a_postgresql_store(pg, monkeypatch, tmp_path):
    """Experiments, a sweep's runs, a run, the registry, whose write keys open their dialogs;
    the password is nowhere on screen."""
    from textual.widgets import DataTable

    from mltui.tui.widgets.runs_table import RunsTable
    from tests.tui.helpers import make_app, record_notices, settle

    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path / "cache"))
    uri, expected = pg
    app = make_app(uri)
    notices = record_notices(app)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.sub_title == str(app.store.location) and PASSWORD not in app.sub_title
        table = app.screen.query_one("#experiments-table", DataTable)
        active = [e for e in expected["experiments"] if e["lifecycle_stage"] == "active"]
        assert table.row_count == len(active)
        sweep = next(e["experiment_id"] for e in active if e["name"] == "elasticnet-sweep")
        table.move_cursor(row=table.get_row_index(sweep))
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "RunsScreen"
        assert app.screen.query_one(RunsTable).row_count == 6
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "RunScreen"
        for _ in range(2):
            await pilot.press("escape")
            await settle(pilot)
        await pilot.press("M", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "ModelVersionsScreen"
        await pilot.press("t")  # a version tag: its dialog
        await settle(pilot)
        assert type(app.screen).__name__ == "TagInputScreen"
        await pilot.press("escape")
        await settle(pilot)
    assert notices == []


def test_psycopg_is_imported_only_when_a_postgresql_store_opens():
    from tests.test_import_hygiene import modules_after

    loaded = modules_after(
        "import mltui.tui.cli, mltui.store.postgres.store\n"
        "from mltui.store.locate import default_store_target, open_store\n"
        "default_store_target({'MLFLOW_TRACKING_URI': 'postgresql://me@db/mlflow'})\n"
        "open_store('tests/fixtures/stores/mlflow-3.18.0-sqlite/mlflow.db').close()"
    )
    assert "mltui.store.postgres.store" in loaded and "psycopg" not in loaded


# -- search: MlflowClient.search_runs on the same PostgreSQL database ------------------------
@pytest.fixture(scope="module")
def search_store(postgres_server):
    """tests/test_search_parity.py's runs, written by MLflow into a database of their own."""
    from tests.test_search_parity import open_live_store

    uri = postgres_server.create_database("search")
    driver_uri = uri.replace("postgresql://", "postgresql+psycopg://", 1)
    live = open_live_store(driver_uri, lambda: PostgresStore(uri))
    yield live
    live.ours.close()


def _search_filters() -> list[str]:
    """test_search_parity's filters, but those where MLflow's SQL stores answer differently
    from its file store (whose answer mltui gives; LIKE's `%` matching a newline, ILIKE on
    non-ASCII letters in the C locale): PostgreSQL answers them as SQLite does."""
    from tests.test_search_parity import SQL_DIFFERENT, STORE_FILTERS

    return [f for f in STORE_FILTERS if f not in SQL_DIFFERENT]


def _search_orders() -> list[list[str]]:
    from tests.test_search_parity import STORE_ORDERS

    return STORE_ORDERS


@pytest.mark.parametrize("f", _search_filters())
def test_search_filters_equal_mlflows(search_store, f):
    from tests.test_search_parity import mlflow_ids, our_ids

    f = f.format(**search_store.ids)
    assert our_ids(search_store.runs, f, []) == mlflow_ids(search_store, f, [])


@pytest.mark.parametrize("order_by", _search_orders(), ids=str)
def test_search_orders_equal_mlflows(search_store, order_by):
    from tests.test_search_parity import mlflow_ids, our_ids

    assert our_ids(search_store.runs, "", order_by) == mlflow_ids(search_store, "", order_by)


def test_a_read_waits_for_a_schema_change_no_longer_than_lock_timeout(pg, monkeypatch):
    """MVCC readers wait only for a lock such as a migration's: lock_timeout ends the wait."""
    import psycopg

    from mltui.store.postgres import connect

    monkeypatch.setattr(connect, "LOCK_TIMEOUT", "1s")
    store = PostgresStore(pg[0])
    with psycopg.connect(pg[0]) as migration:
        migration.execute("LOCK TABLE experiments IN ACCESS EXCLUSIVE MODE")
        # Without the timeout the read would wait for ever: the lock ends in 30 s regardless.
        release = threading.Timer(30, migration.close)
        release.start()
        with pytest.raises(StoreError) as caught:
            store.experiments()
        release.cancel()
    assert str(caught.value) == (
        f"cannot read {store.location}: canceling statement due to lock timeout"
    )
    assert store.experiments()  # the lock released, the same store reads again
    store.close()


def test_following_polls_points_runs_experiments_and_registry(postgres_server, pg):
    """MLflow writes to a copy of the database while a follower polls it; each change is
    reported: a point logged to a running run, a new run, a deleted run, an experiment tag,
    a registry tag."""
    import time

    from mlflow import MlflowClient

    postgres_server.execute("postgres", 'CREATE DATABASE "live" TEMPLATE "mlflow"')
    uri = postgres_server.uri("live")
    client = MlflowClient(tracking_uri=uri.replace("postgresql://", "postgresql+psycopg://"))
    store = PostgresStore(uri)
    running = next(r for r in store.runs() if r.run_name == "still-running")
    # Between the first read and following's start: in the first change set.
    client.set_terminated(running.run_id, "FINISHED")
    follower = store.follower(poll_seconds=0.2, since_ns=store.opened_ns)
    seen: list = []

    def reported(check, write=None, start: int | None = None) -> bool:
        """Whether a change set after `write` (done here) passes `check`, within 60 s."""
        start = len(seen) if start is None else start
        if write is not None:
            write()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(check(changes) for changes in seen[start:]):
                return True
            time.sleep(0.1)
        return False

    follower.start(seen.append)
    try:
        assert follower.wait_ready(60) and follower.mode == "polling"
        assert reported(lambda c: running.run_id in c.runs, start=0)  # the first change set
        assert reported(lambda c: running.run_id in c.runs,
                        lambda: client.update_run(running.run_id, "RUNNING"))  # fmt: skip
        log = lambda: client.log_metric(running.run_id, "live_metric", 0.5, step=7)  # noqa: E731
        assert reported(lambda c: running.run_id in c.runs, log)
        new = client.create_run(running.experiment_id, run_name="appeared").info.run_id
        assert reported(lambda c: new in c.runs)
        assert reported(lambda c: new in c.deleted_runs, lambda: client.delete_run(new))
        tag = lambda: client.set_experiment_tag(running.experiment_id, "followed", "yes")  # noqa: E731
        assert reported(lambda c: running.experiment_id in c.experiments, tag)
        tag = lambda: client.set_registered_model_tag("churn-model", "followed", "yes")  # noqa: E731
        assert reported(lambda c: c.registry, tag)
        assert not any(c.notices for c in seen)
    finally:
        follower.stop()
        store.close()


def test_following_reports_finished_runs_tags_rewritten_in_place_where_shown(postgres_server, pg):
    """MLflow rewrites finished runs' tags in place (`set_tag` on a key the run has: an UPDATE,
    no new row) and deletes one while two followers poll: the runs page's (an experiment's runs
    listed) and the run page's (one run's tags shown) each report the runs they show, and
    nothing else (only what is shown is compared)."""
    import time

    from mlflow import MlflowClient

    from mltui.store.follow import Shown, StoreChanges

    postgres_server.execute("postgres", 'CREATE DATABASE "live_tags" TEMPLATE "mlflow"')
    uri = postgres_server.uri("live_tags")
    client = MlflowClient(tracking_uri=uri.replace("postgresql://", "postgresql+psycopg://"))
    store = PostgresStore(uri)
    finished = [r for r in store.runs() if r.status == "FINISHED" and len(r.tags) > 1]  # on show
    by_exp: dict[str, list] = {}
    for run in finished:
        by_exp.setdefault(run.experiment_id, []).append(run)
    exp, listed = max(by_exp.items(), key=lambda item: len(item[1]))
    assert len(listed) >= 2
    alone, hidden = [r for r in finished if r.experiment_id != exp][:2]
    seen: tuple[list[StoreChanges], list[StoreChanges]] = ([], [])
    followers = [store.follower(poll_seconds=0.2), store.follower(poll_seconds=0.2)]
    shown = (Shown(runs_of=frozenset({exp})), Shown(tags_of=frozenset({alone.run_id})))
    for follower, page, collect in zip(followers, shown, seen, strict=True):
        follower.show(page)
        follower.start(collect.append)

    def reported(changes: list[StoreChanges]) -> set[str]:
        return {r for c in list(changes) for r in c.runs}

    try:
        assert all(f.wait_ready(60) for f in followers)
        # Not mlflow.runName: MLflow copies it into the run's row, whose change is seen anyway.
        key = lambda run: min(k for k in run.tags if k != "mlflow.runName")  # noqa: E731
        for run in (listed[0], alone, hidden):
            client.set_tag(run.run_id, key(run), f"rewritten {run.tags[key(run)]}")
        client.delete_tag(listed[1].run_id, key(listed[1]))
        want = ({listed[0].run_id, listed[1].run_id}, {alone.run_id})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
            w <= reported(s) for w, s in zip(want, seen, strict=True)
        ):
            time.sleep(0.1)
        time.sleep(1.0)  # later looks must not report the others either
        assert (reported(seen[0]), reported(seen[1])) == want
        assert not any(c.notices for c in seen[0] + seen[1])
    finally:
        for follower in followers:
            follower.stop()
        store.close()


def test_following_polls_traces(postgres_server, pg):
    """MLflow 3.18 logs a trace (then tags and assesses it) in another process while a
    follower polls a copy of the database: the experiment's traces are reported changed."""
    import time

    from tests.test_live_traces import write_traces

    postgres_server.execute("postgres", 'CREATE DATABASE "live_traces" TEMPLATE "mlflow"')
    uri = postgres_server.uri("live_traces")
    store = PostgresStore(uri)
    exp_id = next(e.experiment_id for e in store.experiments() if e.name != "Default")
    follower = store.follower(poll_seconds=0.2)
    seen: list = []
    follower.start(seen.append)
    try:
        assert follower.wait_ready(60)
        write_traces([(uri.replace("postgresql://", "postgresql+psycopg://"), exp_id)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(exp_id in c.traces for c in seen):
            time.sleep(0.1)
        assert {e for c in seen for e in c.traces} == {exp_id}
    finally:
        follower.stop()
        store.close()


def test_artifacts_on_a_shared_disk_are_browsed_and_remote_ones_named(
    postgres_server, pg, tmp_path
):
    """A run's folder inside its experiment's artifact location, seen from this machine, is
    browsed; an S3 or tracking-server location is named, not fetched."""
    from dataclasses import replace

    from mltui.store.artifacts import list_artifacts

    postgres_server.execute("postgres", 'CREATE DATABASE "shared_disk" TEMPLATE "mlflow"')
    run_folder = tmp_path / "exp" / "run1" / "artifacts"
    run_folder.mkdir(parents=True)
    (run_folder / "model.txt").write_text("weights")
    postgres_server.execute(
        "shared_disk",
        f"UPDATE experiments SET artifact_location = '{(tmp_path / 'exp').as_uri()}' "
        "WHERE name = 'Default'",
        f"UPDATE runs SET artifact_uri = '{run_folder}' WHERE name = 'hello-default'",
    )
    store = PostgresStore(postgres_server.uri("shared_disk"))
    try:
        run = next(r for r in store.runs() if r.run_name == "hello-default")
        root = store.artifact_root(run)
        assert root.path == run_folder and root.note is None
        assert [e.path for e in list_artifacts(root)] == ["model.txt"]
        s3 = store.artifact_root(replace(run, artifact_uri="s3://bucket/1/run1/artifacts"))
        assert s3.path is None and "stored remotely (s3:)" in s3.note
        served = store.artifact_root(replace(run, artifact_uri="mlflow-artifacts:/1/r/artifacts"))
        assert served.path is None
        assert served.note == (
            "artifacts are served by a tracking server (mlflow-artifacts:/1/r/artifacts); "
            "open the server's URL to browse them"
        )
    finally:
        store.close()
