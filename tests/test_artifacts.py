"""Finding artifact folders of moved stores, listing them, and refusing paths that leave them."""

from __future__ import annotations

import concurrent.futures
import os
from pathlib import Path

import pytest

from mltui.store.artifacts import (
    ArtifactRoot,
    list_artifacts,
    read_text_preview,
    resolve_artifact_root,
)
from mltui.store.errors import StoreError
from mltui.store.file.reader import FileStore
from tests.conftest import FIXTURE_STORES, copy_fixture


def _file_fixture(version: str = "3") -> Path:
    found = [
        p
        for p in FIXTURE_STORES
        if p.name.startswith(f"mlflow-{version}") and not (p / "mlflow.db").is_file()
    ]
    if not found:
        pytest.skip(f"no MLflow {version} file fixture")
    return found[-1]


@pytest.fixture
def edge_run(tmp_path):
    """(store, run) of the fixture run that logs text, nested and binary artifacts, in a copy."""
    fixture = copy_fixture(_file_fixture().name, tmp_path)
    store = FileStore(fixture / "mlruns", use_cache=False)
    run = next(r for r in store.runs() if r.run_name == "[bold]x[/bold]")
    return store, run


def test_relocated_store_is_found_under_the_store(edge_run):
    store, run = edge_run
    # The fixture was built elsewhere and copied: the recorded location no longer exists.
    assert run.artifact_uri.startswith("file:///tmp/mltui-fixture-build/")
    root = store.artifact_root(run)
    assert root.path is not None and root.path.is_dir()
    assert root.path == store.location / run.experiment_id / run.run_id / "artifacts"
    assert root.note and str(root.path) in root.note


def test_recorded_path_that_exists_is_used_as_is(tmp_path):
    folder = tmp_path / "store" / "art"
    folder.mkdir(parents=True)
    for recorded in (folder.as_uri(), str(folder), f"file:{folder}"):
        root = resolve_artifact_root(recorded, tmp_path / "store")
        assert root.path == folder and root.note is None, recorded


@pytest.mark.parametrize("recorded", ["file:///etc", "/etc", "file://localhost/etc", "../.."])
def test_artifact_folder_outside_the_store_is_not_browsed(tmp_path, recorded):
    store_root = tmp_path / "a" / "b" / "mlruns"
    store_root.mkdir(parents=True)
    root = resolve_artifact_root(recorded, store_root)
    assert root.path is None
    assert "outside the store" in root.note and str(store_root) in root.note
    assert list_artifacts(root) == []
    with pytest.raises(StoreError, match="outside the store"):
        read_text_preview(root, "passwd")


def test_run_recording_etc_as_its_artifacts_is_not_browsed(edge_run):
    store, run = edge_run
    meta = store.location / run.experiment_id / run.run_id / "meta.yaml"
    text = meta.read_text().replace(run.artifact_uri, "file:///etc")
    meta.write_text(text)
    run = store.run(run.run_id)
    assert run.artifact_uri == "file:///etc"
    root = store.artifact_root(run)
    assert root.path is None and "outside the store" in root.note
    # A link from inside the store out of it is no way round.
    (store.location / "etc-link").symlink_to("/etc")
    root = resolve_artifact_root(str(store.location / "etc-link"), store.location)
    assert root.path is None and "outside the store" in root.note


def test_tail_of_recorded_path_matched_under_store_root(tmp_path):
    # A SQLite store's project folder moved: /old/proj/mlruns/1/abc/artifacts -> <new>/mlruns/...
    target = tmp_path / "mlruns" / "1" / "abc" / "artifacts"
    target.mkdir(parents=True)
    root = resolve_artifact_root("/old/proj/mlruns/1/abc/artifacts", tmp_path)
    assert root.path == target
    assert "not found" in root.note and str(target) in root.note


def test_relative_uri_of_mlflow1_sqlite_stores(tmp_path):
    target = tmp_path / "mlruns" / "0" / "abc" / "artifacts"
    target.mkdir(parents=True)
    root = resolve_artifact_root("./mlruns/0/abc/artifacts", tmp_path)
    assert root.path == target and root.note is None


@pytest.mark.parametrize(
    "uri",
    ["s3://bucket/0/abc/artifacts", "mlflow-artifacts:/0/abc/artifacts", "gs://b/x", "dbfs:/x"],
)
def test_remote_uris_have_no_local_path(uri, tmp_path):
    root = resolve_artifact_root(uri, tmp_path)
    assert root.path is None
    assert root.note and uri.split(":")[0] in root.note
    assert list_artifacts(root) == []


def test_missing_everywhere_gives_no_path_and_says_so(tmp_path):
    root = resolve_artifact_root("file:///nowhere/at/all/artifacts", tmp_path)
    assert root.path is None and "/nowhere/at/all/artifacts" in root.note
    assert resolve_artifact_root("", tmp_path).path is None


def test_listing_folders_first_with_sizes(edge_run):
    store, run = edge_run
    root = store.artifact_root(run)
    entries = list_artifacts(root)
    names = [(e.path, e.is_dir) for e in entries]
    assert names[:2] == [("binary", True), ("deep", True)]
    assert ("notes.txt", False) in names
    notes = next(e for e in entries if e.path == "notes.txt")
    assert notes.size == len("plain text artifact\n")
    deep = list_artifacts(root, "deep/nested/folder")
    assert [(e.path, e.is_dir) for e in deep] == [("deep/nested/folder/readme.md", False)]
    assert list_artifacts(root, "no/such/folder") == []


def test_text_preview_and_binary(edge_run):
    store, run = edge_run
    root = store.artifact_root(run)
    assert read_text_preview(root, "notes.txt") == "plain text artifact\n"
    assert read_text_preview(root, "notes.txt", limit=5) == "plain"
    assert read_text_preview(root, "binary/blob.bin") is None
    with pytest.raises(StoreError):
        read_text_preview(root, "deep")


def test_preview_cut_inside_a_multibyte_character(tmp_path):
    (tmp_path / "u.txt").write_text("aé日本", encoding="utf-8")
    root = ArtifactRoot(recorded=str(tmp_path), path=tmp_path)
    assert read_text_preview(root, "u.txt", limit=4) == "aé"  # 日 cut after one byte
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    assert read_text_preview(root, "latin1.txt") is None


@pytest.mark.parametrize("rel", ["..", "../..", "../../etc/passwd", "a/../../x", "deep/../.."])
def test_paths_leaving_the_root_are_refused(edge_run, rel):
    store, run = edge_run
    root = store.artifact_root(run)
    with pytest.raises(StoreError):
        list_artifacts(root, rel)
    with pytest.raises(StoreError):
        read_text_preview(root, rel)


def test_absolute_paths_stay_inside_the_root(edge_run):
    store, run = edge_run
    root = store.artifact_root(run)
    # A leading "/" is taken relative to the artifact root, never as the filesystem's root.
    assert list_artifacts(root, "/etc") == []
    assert [e.path for e in list_artifacts(root, "/deep/nested")] == ["deep/nested/folder"]
    with pytest.raises(StoreError):
        read_text_preview(root, "/etc/passwd")


def test_symlinks_out_of_the_root_are_hidden_and_refused(edge_run, tmp_path):
    store, run = edge_run
    root = store.artifact_root(run)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not show")
    os.symlink(secret, root.path / "escape.txt")
    os.symlink(tmp_path, root.path / "escape_dir")
    os.symlink(root.path / "notes.txt", root.path / "inside.txt")
    names = {e.path for e in list_artifacts(root)}
    assert "escape.txt" not in names and "escape_dir" not in names
    assert "inside.txt" in names  # a link that stays inside is fine
    assert read_text_preview(root, "inside.txt") == "plain text artifact\n"
    with pytest.raises(StoreError):
        read_text_preview(root, "escape.txt")
    with pytest.raises(StoreError):
        list_artifacts(root, "escape_dir")


def test_sqlite_fixture_artifacts_resolve_relative_to_the_database(tmp_path):
    found = [p for p in FIXTURE_STORES if (p / "mlflow.db").is_file()]
    if not found:
        pytest.skip("no SQLite fixture")
    fixture = found[-1]
    # Any recorded run folder under the fixture's mlruns/ can be found from the db's folder.
    run_dir = next(p for p in (fixture / "mlruns").glob("*/*") if (p / "artifacts").is_dir())
    recorded = f"/gone/{fixture.name}/mlruns/{run_dir.parent.name}/{run_dir.name}/artifacts"
    root = resolve_artifact_root(recorded, fixture)
    assert root.path == run_dir / "artifacts"


def test_fifo_artifact_is_listed_but_not_read(edge_run):
    store, run = edge_run
    root = store.artifact_root(run)
    fifo = root.path / "pipe"
    os.mkfifo(fifo)
    assert "pipe" in {e.path for e in list_artifacts(root)}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        preview = pool.submit(read_text_preview, root, "pipe")
        try:
            with pytest.raises(StoreError, match="not a regular file"):
                preview.result(timeout=60)  # a blocked read fails the test, not hangs it
        finally:
            if not preview.done():  # a writer opening the FIFO sets the blocked reader free
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
