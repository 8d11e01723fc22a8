"""Fixture stores written by real MLflow: the committed ones and fresh ones made on demand."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

FIXTURES_DIR = Path(__file__).parent / "fixtures"
STORES_DIR = FIXTURES_DIR / "stores"

#: Committed fixture stores (tests/fixtures/stores/mlflow-<version>-<backend>/), each with the
#: expected.json holding MlflowClient's own reading of it.
FIXTURE_STORES: list[Path] = sorted(
    p for p in STORES_DIR.glob("mlflow-*") if (p / "expected.json").is_file()
)
FIXTURE_IDS: list[str] = [p.name for p in FIXTURE_STORES]
REPO = Path(__file__).resolve().parents[1]


def child_pythonpath() -> str:
    """PYTHONPATH for a child Python: the repository (for `tests`), then what this process
    was given (which may name the worktree whose `mltui` is under test)."""
    return os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))


#: Where MLflow's client writes when not told: never a test's business to inherit.
MLFLOW_URI_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@pytest.fixture(autouse=True)
def own_environment():
    """Every test ends with the environment it began with.

    MLflow's set_tracking_uri and set_registry_uri also set MLFLOW_TRACKING_URI and
    MLFLOW_REGISTRY_URI in os.environ, for subprocesses to inherit: a later test on the same
    pytest-xdist worker then started MLflow writers that wrote to the earlier test's store
    (test_watch's registry change went to a registry race's copy, and was never seen). A
    test does not inherit them from the shell either: its writers write to its own stores.
    """
    saved = dict(os.environ)
    for name in MLFLOW_URI_VARIABLES:
        os.environ.pop(name, None)
    uris = _mlflow_uris()
    yield
    _put_back_mlflow_uris(uris)
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


def _mlflow_uris() -> tuple[str | None, str | None]:
    """MLflow's process-wide tracking and registry URIs (None each while MLflow is not imported).

    They outlive a test: after one called set_registry_uri, a later test's
    `MlflowClient(tracking_uri=server)` wrote its registry changes to that test's store (the
    global registry URI wins over the tracking URI), and the server never saw them (CI's whole
    suite: the server registry-following tests)."""
    if "mlflow" not in sys.modules:
        return None, None
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    return tracking._tracking_uri, registry._registry_uri


def _put_back_mlflow_uris(uris: tuple[str | None, str | None]) -> None:
    if "mlflow" not in sys.modules or _mlflow_uris() == uris:
        return
    import mlflow
    from mlflow.tracking._model_registry import utils as registry

    tracking_uri, registry._registry_uri = uris
    mlflow.set_tracking_uri(tracking_uri)  # also resets the tracer provider bound to the URI


def store_path(fixture_dir: Path) -> Path:
    """What to pass to open_store: the fixture's mlflow.db if it has one, else its mlruns/."""
    db = fixture_dir / "mlflow.db"
    return db if db.is_file() else fixture_dir / "mlruns"


def expected_reading(fixture_dir: Path) -> dict[str, Any]:
    """MLflow's own reading of a fixture store (readings.py schema, plus version and backend)."""
    return json.loads((fixture_dir / "expected.json").read_text(encoding="utf-8"))


def copy_fixture(name: str, tmp_path: Path) -> Path:
    """Copy the committed fixture store `name` under tmp_path and return the copy's folder."""
    target = tmp_path / name
    shutil.copytree(STORES_DIR / name, target)
    return target


def untested_schema(db: Path) -> None:
    """Make a copied fixture database one mltui has not tested writes on: the alembic revision
    MLflow 3.18.0 stamps, and a registry column no tested schema has (so a gate that compares
    the registry tables, not only the revision string, refuses it too)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("UPDATE alembic_version SET version_num = 'f4a9b2c7d1e6'")
        conn.execute("ALTER TABLE registered_models ADD COLUMN untested_column VARCHAR(32)")
        conn.commit()
    finally:
        conn.close()


def skip_unless_mlflow_opens(name: str) -> None:
    """Skip unless the installed MLflow can open fixture `name` (a copy's folder name will do).

    MLflow refuses a database migrated past the newest schema it knows, so an SQLite fixture
    needs an MLflow at least as new as the one that wrote it (CI installs the newest).
    """
    if not mlflow_opens(name):
        installed = importlib.metadata.version("mlflow")
        pytest.skip(f"MLflow {installed} cannot open the database of {name}")


def mlflow_opens(name: str) -> bool:
    """Whether the installed MLflow can open fixture `name` (see skip_unless_mlflow_opens)."""
    found = re.fullmatch(r"mlflow-([\d.]+)-sqlite", name)
    if found is None or importlib.util.find_spec("mlflow") is None:
        return True
    return _version(importlib.metadata.version("mlflow")) >= _version(found.group(1))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


@pytest.fixture(scope="session")
def fresh_mlflow_stores(tmp_path_factory) -> dict[str, Path]:
    """Stores just written by the installed MLflow, by backend ("file", "sqlite")."""
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip("mlflow is not installed (it comes with the test extra)")
    version = importlib.metadata.version("mlflow")
    root = tmp_path_factory.mktemp("fresh-mlflow-stores")
    stores = {}
    for backend in ("file", "sqlite"):
        stores[backend] = make_fixture_store(root / f"mlflow-{version}-{backend}", backend)
    return stores


def make_fixture_store(target: Path, backend: str, *options: str) -> Path:
    """`target` made by make_fixtures.py with the installed MLflow (built beside it)."""
    done = subprocess.run(
        [
            sys.executable,
            str(FIXTURES_DIR / "make_fixtures.py"),
            str(target),
            "--backend",
            backend,
            "--build-root",
            str(target.parent / "build"),
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        pytest.fail(f"make_fixtures.py --backend {backend} failed:\n{done.stderr[-4000:]}")
    return target


WORKSPACES_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ["MLFLOW_ENABLE_WORKSPACES"] = "true"
    import mlflow
    from mlflow import MlflowClient

    uri, action = sys.argv[1], sys.argv[2]
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if action == "build":
        mlflow.create_workspace("team-b", description="the other team")
        mlflow.set_workspace("team-b")
        client.create_registered_model("wine-classifier", tags={"team": "b"}, description="b's")
        client.create_model_version("wine-classifier", "/b/model-1")
        client.create_registered_model("b-only")
        client.create_model_version("b-only", "/b/only-1")
    else:
        out = {}
        for ws in ("default", "team-b"):
            mlflow.set_workspace(ws)
            for rm in client.search_registered_models():
                full = client.get_registered_model(rm.name)
                versions = client.search_model_versions(f"name = '{rm.name}'")
                out[f"{ws}/{rm.name}"] = {
                    "description": full.description,
                    "tags": full.tags,
                    "aliases": {a: str(v) for a, v in full.aliases.items()},
                    "versions": sorted(int(v.version) for v in versions),
                }
        print(json.dumps(out))
    """
)


def mlflow_workspaces(folder: Path, action: str = "read") -> dict:
    """MLflow's reading of the registry of an SQLite store copy, by "<workspace>/<name>"
    (action "build" adds the team-b workspace instead)."""
    skip_unless_mlflow_opens(folder.name)
    return mlflow_script(WORKSPACES_SCRIPT, folder, action)


def mlflow_script(script: str, folder: Path, action: str) -> dict:
    """Run `script` with the installed MLflow, its arguments the URI of `folder`'s mlflow.db and
    `action`; for action "read", its last line of output as JSON."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-c", script, uri, action],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1]) if action == "read" else {}


@pytest.fixture
def two_workspaces(tmp_path: Path) -> Path:
    """The newest SQLite fixture the installed MLflow opens, with a second workspace (team-b)
    that MLflow filled: its own wine-classifier (v1) and a model only it has, b-only (v1)."""
    fixture = next(
        (n for n in ("mlflow-3.18.0-sqlite", "mlflow-3.17.2-sqlite") if mlflow_opens(n)), None
    )
    if fixture is None:
        pytest.skip("the installed MLflow has no workspaces")
    folder = copy_fixture(fixture, tmp_path)
    mlflow_workspaces(folder, "build")
    return folder


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of our own for the session (tests/postgres_server.py)."""
    from tests.postgres_server import PostgresServer, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL is not installed: no initdb, pg_ctl and postgres on PATH or in "
            "/usr/lib/postgresql/*/bin (Debian: apt-get install postgresql)",
            pytrace=False,
        )
    server = PostgresServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_mlflow_store(postgres_server, tmp_path_factory) -> tuple[str, Path]:
    """(URI, folder): a PostgreSQL database the installed MLflow filled with make_fixtures.py's
    content, and the folder holding its artifacts and expected.json (MLflow's reading)."""
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip("mlflow is not installed (it comes with the test extra)")
    uri = postgres_server.create_database("mlflow")
    root = tmp_path_factory.mktemp("postgres-mlflow-store")
    driver_uri = uri.replace("postgresql://", "postgresql+psycopg://", 1)  # SQLAlchemy's
    return uri, make_fixture_store(root / "mlflow-postgres", "postgres", "--uri", driver_uri)
