"""A tracking server on PostgreSQL, read two ways: through `mlflow server`'s REST API, and the
database read directly. A team's setup (`mlflow server --backend-store-uri postgresql://...`),
with both of mltui's readings of it equal, runs and histories included."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mltui.store import open_store
from mltui.tui.cli import main
from tests.mlflow_server import mlflow_server

# With the other PostgreSQL tests: one PostgreSQL server and one filled database per session.
pytestmark = pytest.mark.xdist_group("postgres")


@pytest.fixture(scope="module")
def pg_server(postgres_mlflow_store, tmp_path_factory):
    """(server URL, database URI): an `mlflow server` over the MLflow-filled database."""
    uri, _ = postgres_mlflow_store
    folder = tmp_path_factory.mktemp("server-on-postgres")
    backend = uri.replace("postgresql://", "postgresql+psycopg://", 1)  # SQLAlchemy's driver
    with mlflow_server(backend, folder / "artifacts", folder / "server.log") as url:
        yield url, uri


def export(capsys, *args: str) -> list[dict]:
    code = main(["export", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return sorted(
        (json.loads(line) for line in out.splitlines()),
        key=lambda r: r.get("run_id") or r.get("model_id"),
    )


@pytest.mark.parametrize("options", [["--all", "--history"], ["--logged-models"]])
def test_the_server_and_the_database_read_the_same(pg_server, capsys, options):
    url, uri = pg_server
    over_http = export(capsys, url, *options)
    direct = export(capsys, uri, *options)
    assert over_http, "the fixture database holds runs and logged models"
    assert over_http == direct


def test_registered_models_read_the_same(pg_server):
    url, uri = pg_server
    server, database = open_store(url), open_store(uri)
    try:
        names = sorted(m.name for m in database.registered_models())
        assert names and names == sorted(m.name for m in server.registered_models())
        for name in names:
            # Where the server keeps a version's files is its own business: not in its answers.
            ours = [replace(v, storage_location=None) for v in database.model_versions(name)]
            assert ours == server.model_versions(name), name
    finally:
        server.close()
        database.close()
