"""Registry writes on a PostgreSQL store opened directly, read back by MlflowClient.

Each test writes to a database of its own, copied (CREATE DATABASE ... TEMPLATE) from the one
MLflow filled for the session (tests/conftest.py: postgres_mlflow_store): every write of
tests/test_registry_write.py's CASES made by mltui and by MLflow on two copies, compared as
MLflow reads them and row by row; a concurrent MlflowClient writer; a role without write rights;
registry tables unlike MLflow's; the registry screens' write keys.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from typing import Any

import pytest

from mltui.store.errors import ReadOnlyError, as_sentence
from mltui.store.postgres.registry_schema import TESTED_SCHEMAS_FILE
from mltui.store.postgres.store import PostgresStore
from mltui.store.registry import RegistryWriter
from mltui.store.sqlite.registry_schema import WRITTEN_TABLES
from tests.fixtures.make_pg_registry_schemas import render, schemas
from tests.postgres_server import PASSWORD
from tests.test_registry_write import (
    CASES,
    C,
    Case,
    W,
    assert_nothing_lost,
    assert_written_as_mlflow,
    client_reading,
    context_of,
    new_times,
    race_mlflow_writer,
)

mlflow = pytest.importorskip("mlflow")
pytestmark = [
    pytest.mark.xdist_group("postgres"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # MLflow's stage deprecation
]
TEMPLATE = "registry_template"
_numbers = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def _mlflow_uris_put_back():
    """MLflow's global tracking and registry URIs (and the environment variables it sets with
    them) as they were before this module pointed them at its databases: later tests' clients
    without a registry URI would write here."""
    import os

    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "_registry_uri", registry._registry_uri)
        patch.setattr(tracking, "_tracking_uri", tracking._tracking_uri)
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            if name in os.environ:
                patch.setenv(name, os.environ[name])
            else:
                patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def template(postgres_server, postgres_mlflow_store) -> str:
    """A copy of the database MLflow filled, to copy from: copying needs a database nobody is
    connected to, which the session's is not while other tests use it (an mlflow server's pool,
    a store not closed yet), and the copy is ours alone."""
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        try:
            postgres_server.execute("postgres", f"CREATE DATABASE {TEMPLATE} TEMPLATE mlflow")
            return TEMPLATE
        except psycopg.errors.ObjectInUse:  # another test's connection, closing
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def fresh(postgres_server, template):
    """fresh() -> the URI of a new copy of the template."""

    def make() -> str:
        name = f"reg_{next(_numbers)}"
        postgres_server.execute("postgres", f"CREATE DATABASE {name} TEMPLATE {template}")
        return postgres_server.uri(name)

    return make


def client_of(uri: str):
    """MlflowClient on `uri` (the global tracking URI too: registering looks logged models up
    through it)."""
    driver = uri.replace("postgresql://", "postgresql+psycopg://", 1)
    mlflow.set_tracking_uri(driver)
    mlflow.set_registry_uri(driver)
    return mlflow.MlflowClient(tracking_uri=driver, registry_uri=driver)


def rows(uri: str, old: set[int]) -> dict[str, list]:
    """The rows of the tables a registry write touches, times not in `old` replaced by NEW."""
    import psycopg

    out = {}
    with psycopg.connect(uri) as conn:
        for table in WRITTEN_TABLES:
            cur = conn.execute(f"SELECT * FROM {table}")
            cols = [d.name for d in cur.description or ()]
            out[table] = sorted((new_times(cols, row, old) for row in cur), key=repr)
    return out


def base_times(uri: str) -> set[int]:
    import psycopg

    with psycopg.connect(uri) as conn:
        return {
            x
            for table in ("registered_models", "model_versions")
            for row in conn.execute(f"SELECT creation_time, last_updated_time FROM {table}")
            for x in row
            if x is not None
        }


@pytest.fixture(scope="module")
def base(postgres_server, template) -> tuple[str, dict[tuple, Any]]:
    """(URI, MLflow's reading) of an untouched copy."""
    name = "reg_base"
    postgres_server.execute("postgres", f"CREATE DATABASE {name} TEMPLATE {template}")
    uri = postgres_server.uri(name)
    return uri, client_reading(client_of(uri))


def test_tested_schema_file_is_what_mlflow_makes_on_postgresql(postgres_mlflow_store):
    # Out of date when the tests' MLflow changes: run tests/fixtures/make_pg_registry_schemas.py.
    assert TESTED_SCHEMAS_FILE.read_text(encoding="utf-8") == render(
        schemas(postgres_mlflow_store[0])
    )


def on_postgresql(case: Case) -> Case:
    """`case` with MLflow's side as it works on PostgreSQL: MLflow 3.18's archiving transition
    compares the version column with the version as given, and PostgreSQL refuses to compare
    an integer with the string "5" (operator does not exist: integer <> character varying)."""
    if case.id == "transition_archiving":
        return dataclasses.replace(
            case, theirs=lambda cl, c: cl.transition_model_version_stage(W, 5, "production", True)
        )
    return case


@pytest.mark.parametrize(
    "case", [on_postgresql(c) for c in CASES if c.only_era in (None, 3)], ids=lambda c: c.id
)
def test_write_as_mlflow_writes_it(case: Case, base, fresh):
    base_uri, before = base
    ours, theirs = fresh(), fresh()
    store = PostgresStore(ours)
    try:
        ctx = context_of(store)
        result = case.ours(RegistryWriter(store), ctx)
    finally:
        store.close()
    assert result.plan.changes and result.plan.summary
    case.theirs(client_of(theirs), ctx)
    after, mlflow_after = client_reading(client_of(ours)), client_reading(client_of(theirs))
    assert_written_as_mlflow(case, ctx, result, before, after, mlflow_after)
    old = base_times(base_uri)
    assert rows(ours, old) == rows(theirs, old)


def test_a_write_waits_for_mlflows_and_undoes_none_of_it(fresh, postgres_server):
    """MLflow moves version 2 out of Production while our archiving transition waits for the
    model's row: ours is made again on what MLflow committed, and archives nothing of MLflow's."""
    import psycopg

    uri = fresh()
    store = PostgresStore(uri)
    writer = RegistryWriter(store)
    plan = writer.plan_transition_stage(W, 4, "Production", archive_existing_versions=True)
    assert f"{W} version 2: stage Production → Archived" in plan.changes
    other = psycopg.connect(uri)
    # As MLflow's transition does: the model's row first, then the version's.
    other.execute("UPDATE registered_models SET last_updated_time = 1 WHERE name = %s", (W,))
    other.execute(
        "UPDATE model_versions SET current_stage = 'Staging' WHERE name = %s AND version = 2", (W,)
    )
    done: list[Any] = []
    ours = threading.Thread(target=lambda: done.append(writer.apply(plan)))
    ours.start()
    waiting = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 60
    # Looked at from outside `other`'s transaction, which sees pg_stat_activity as it began.
    with psycopg.connect(uri, autocommit=True) as look:
        while look.execute(waiting).fetchone()[0] == 0:
            assert time.monotonic() < deadline, "our write never waited for the row lock"
            time.sleep(0.01)
    other.commit()
    other.close()
    ours.join(timeout=60)
    store.close()
    assert done, "the write did not finish"
    client = client_of(uri)
    assert client.get_model_version(W, "4").current_stage == "Production"
    assert client.get_model_version(W, "2").current_stage == "Staging"


def test_concurrent_mlflow_writer_loses_nothing(fresh, tmp_path):
    """MlflowClient (a process of its own: versions, version tags, model tags; 40 rounds of 3
    writes) and mltui (tags, descriptions, versions, version tags, aliases; 16 to 24 rounds of 5)
    write the same model at once, 200 to 240 writes in all: every write of both is there, the
    version numbers unique and without gaps."""
    uri = fresh()
    driver = uri.replace("postgresql://", "postgresql+psycopg://", 1)
    store = PostgresStore(uri)
    try:
        ours = race_mlflow_writer(driver, RegistryWriter(store), 40, tmp_path, (16, 24))
    finally:
        store.close()
    assert_nothing_lost(client_reading(client_of(uri)), 40, ours)


def test_a_dropped_write_connection_is_made_again(fresh, postgres_server):
    """The server ends our idle write connection (an administrator, a pooler): the next write
    connects again, and is made once."""
    uri = fresh()
    store = PostgresStore(uri)
    writer = RegistryWriter(store)
    writer.set_model_tag(W, "before", "1")
    with store.writing() as conn:
        pid = conn.info.backend_pid
    postgres_server.execute("postgres", f"SELECT pg_terminate_backend({pid})")
    writer.create_model_version(W, "/after/drop")
    store.close()
    client = client_of(uri)
    assert client.get_registered_model(W).tags["before"] == "1"
    sources = [mv.source for mv in client.search_model_versions(f"name = '{W}'")]
    assert sources.count("/after/drop") == 1


def _reader_uri(postgres_server, uri: str) -> str:
    """`uri` as a role that may read everything and write nothing."""
    database = uri.rsplit("/", 1)[1]
    postgres_server.execute(
        database,
        "DO $$ BEGIN CREATE ROLE reader LOGIN PASSWORD 'reader-pw'; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader",
    )
    return uri.replace(f"postgres:{PASSWORD}@", "reader:reader-pw@")


def test_a_role_without_insert_rights_is_refused_before_anything(fresh, postgres_server):
    uri = fresh()
    store = PostgresStore(_reader_uri(postgres_server, uri))
    writer = RegistryWriter(store)
    expected = (
        f"{store.location} is not writable by the role reader (no INSERT right on "
        "registered_models); nothing was written."
    )
    assert writer.refusal() == expected
    for attempt in (
        lambda: writer.plan_set_model_tag(W, "k", "v"),
        lambda: writer.plan_create_registered_model("another"),
        lambda: writer.plan_transition_stage(W, 5, "Staging"),
    ):
        with pytest.raises(ReadOnlyError) as info:
            attempt()
        assert str(info.value) == expected
    store.close()
    assert "k" not in client_of(uri).get_registered_model(W).tags


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            "ALTER TABLE model_versions ADD COLUMN foo text",
            "model_versions has a column `foo` that no tested MLflow has",
        ),
        (
            "CREATE UNIQUE INDEX one_run ON model_versions (name, version, run_id)",
            "model_versions has a unique index on (name, version, run_id) that MLflow 3.18.0 "
            "does not have",
        ),
        (
            "ALTER TABLE registered_model_tags ALTER COLUMN value TYPE text",
            "registered_model_tags.value is text where MLflow 3.18.0 has character varying(5000)",
        ),
    ],
)
def test_registry_tables_unlike_mlflows_are_refused(fresh, postgres_server, change, said):
    uri = fresh()
    store = PostgresStore(uri)
    writer = RegistryWriter(store)
    plan = writer.plan_set_model_tag(W, "k", "v")
    postgres_server.execute(uri.rsplit("/", 1)[1], change)
    message = writer.refusal()
    assert message is not None and message.startswith(f"Not writing to {store.location}: {said}")
    assert message.endswith(
        "exactly as MLflow 3.18.0 made them on PostgreSQL, so nothing was written."
    )
    with pytest.raises(ReadOnlyError):  # a plan made before: refused when applied
        writer.apply(plan)
    store.close()
    assert "k" not in client_of(uri).get_registered_model(W).tags


def test_writes_go_into_the_models_own_workspace_and_the_one_asked_for(fresh):
    """Registry rows carry MLflow 3.12+'s workspace; a new model goes into "default", or into the
    writer's workspace when one is given."""
    import psycopg

    uri = fresh()
    store = PostgresStore(uri)
    RegistryWriter(store).set_model_tag(C, "k", "v")
    RegistryWriter(store, workspace="team-b").create_registered_model("b-model")
    store.close()
    with psycopg.connect(uri) as conn:
        found = conn.execute(
            "SELECT workspace, name FROM registered_model_tags WHERE key = 'k' "
            "UNION ALL SELECT workspace, name FROM registered_models WHERE name = 'b-model'"
        ).fetchall()
    assert sorted(found) == [("default", C), ("team-b", "b-model")]


# -- the registry screens ------------------------------------------------------------------------
@pytest.mark.anyio
async def test_the_registry_screens_write_on_postgresql(fresh, monkeypatch, tmp_path):
    """The write keys are live: a stage moved through the dialogs is what MlflowClient reads."""
    from textual.widgets import DataTable

    from mltui.tui.screens.dialogs.confirm_write import ConfirmWriteScreen
    from tests.tui.helpers import make_app, record_notices, settle

    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path / "cache"))
    uri = fresh()
    app = make_app(uri)
    notices = record_notices(app)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("M")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index(W))
        await pilot.press("enter")
        await settle(pilot)
        versions = app.screen
        assert type(versions).__name__ == "ModelVersionsScreen"
        assert versions.active_bindings["s"].enabled
        table = versions.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("4"))
        await pilot.press("s")
        await settle(pilot)
        assert type(app.screen).__name__ == "TransitionScreen"
        await pilot.press("a", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is versions
    assert not [n for n in notices if "nothing was written" in n], notices
    client = client_of(uri)
    assert client.get_model_version(W, "4").current_stage == "Production"
    assert client.get_model_version(W, "2").current_stage == "Archived"


@pytest.mark.anyio
async def test_a_read_only_role_is_refused_before_the_dialog(fresh, postgres_server, tmp_path):
    from tests.tui.helpers import make_app, record_notices, settle

    uri = _reader_uri(postgres_server, fresh())
    app = make_app(uri)
    notices = record_notices(app)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("M", "enter")
        await settle(pilot)
        versions = app.screen
        assert type(versions).__name__ == "ModelVersionsScreen"
        assert not versions.active_bindings["s"].enabled
        await pilot.press("s")
        await settle(pilot)
        assert app.screen is versions
    store = app.store
    assert notices == [
        as_sentence(
            f"{store.location} is not writable by the role reader (no INSERT right on "
            "registered_models); nothing was written"
        )
    ]
