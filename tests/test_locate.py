"""Opening a store from what a person types: folders, .db files, file: and sqlite: URIs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mltui.store import NotAStoreError, open_store
from mltui.store.locate import default_store_target, path_from_uri

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stores"


def one_store(kind: str) -> Path:
    found = sorted(FIXTURES.glob(f"mlflow-3*-{kind}"))
    if not found:
        pytest.skip(f"no MLflow 3 {kind} fixture store")
    return found[-1]


def test_uri_forms():
    assert path_from_uri("sqlite:///mlflow.db") == ("sqlite", Path("mlflow.db"))
    assert path_from_uri("sqlite:////abs/mlflow.db") == ("sqlite", Path("/abs/mlflow.db"))
    assert path_from_uri("file:///abs/mlruns") == ("file", Path("/abs/mlruns"))
    assert path_from_uri("file:///abs/with%20space") == ("file", Path("/abs/with space"))
    assert path_from_uri("./mlruns") == ("path", Path("mlruns"))


def test_each_form_opens_the_same_file_store(monkeypatch):
    fixture = one_store("file")
    mlruns = fixture / "mlruns"
    monkeypatch.chdir(fixture)
    for target in (str(mlruns), f"file://{mlruns}", "mlruns", str(fixture)):
        store = open_store(target)
        assert store.kind == "file"
        assert store.location.resolve() == mlruns.resolve()


def test_each_form_opens_the_same_sqlite_store(monkeypatch):
    fixture = one_store("sqlite")
    db = fixture / "mlflow.db"
    monkeypatch.chdir(fixture)
    for target in (str(db), f"sqlite:///{db}", "sqlite:///mlflow.db"):
        store = open_store(target)
        assert store.kind == "sqlite"
        assert Path(store.location).resolve() == db.resolve()


def test_artifact_only_folder_opens_the_database_beside_it(tmp_path):
    fixture = one_store("sqlite")
    shutil.copytree(fixture, tmp_path / "proj")
    store = open_store(tmp_path / "proj" / "mlruns")
    assert store.kind == "sqlite"
    assert any("mlflow.db" in note for note in store.notes)


def test_not_a_store(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(NotAStoreError, match="not an MLflow store"):
        open_store(tmp_path)
    with pytest.raises(NotAStoreError, match="no such file"):
        open_store(tmp_path / "missing")
    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(NotAStoreError):
        open_store(tmp_path / "empty.db")
    (tmp_path / "text.db").write_text("not sqlite")
    with pytest.raises(NotAStoreError, match="not an SQLite database"):
        open_store(tmp_path / "text.db")
    with pytest.raises(NotAStoreError, match="remote"):
        open_store("databricks://workspace")


def test_default_target_follows_mlflow_ui(tmp_path):
    assert default_store_target({}, tmp_path) is None
    # ...and kept when there is none, so that opening it explains what is unsupported.
    assert (
        default_store_target({"MLFLOW_TRACKING_URI": "databricks://x"}, tmp_path)
        == "databricks://x"
    )
    assert (
        default_store_target({"MLFLOW_TRACKING_URI": "sqlite:///x.db"}, tmp_path)
        == "sqlite:///x.db"
    )
    (tmp_path / "mlflow.db").write_bytes(b"")
    assert default_store_target({}, tmp_path) == str(tmp_path / "mlflow.db")
    remote = {"MLFLOW_TRACKING_URI": "databricks://profile"}
    # A remote tracking URI mltui cannot open is passed over for a local store here...
    assert default_store_target(remote, tmp_path) == str(tmp_path / "mlflow.db")
    # ...but a tracking server's URL is opened, as MLflow's client would (store/server/).
    server = {"MLFLOW_TRACKING_URI": "http://tracking:5000"}
    assert default_store_target(server, tmp_path) == "http://tracking:5000"
    (tmp_path / "mlruns" / "0").mkdir(parents=True)
    (tmp_path / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    assert default_store_target({}, tmp_path) == str(tmp_path / "mlruns")


def test_opening_writes_nothing(tmp_path):
    fixture = one_store("file")
    shutil.copytree(fixture, tmp_path / "s")
    before = sorted((p, p.stat().st_mtime_ns) for p in (tmp_path / "s").rglob("*"))
    store = open_store(tmp_path / "s" / "mlruns")
    store.runs(include_deleted=True)
    after = sorted((p, p.stat().st_mtime_ns) for p in (tmp_path / "s").rglob("*"))
    assert before == after
