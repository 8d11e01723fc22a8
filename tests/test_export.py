"""`mltui export`: the headless surface, checked against MLflow's own reading of each fixture."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mltui.tui.cli import main
from tests.conftest import copy_fixture

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stores"
STORES = sorted(p for p in FIXTURES.glob("*") if (p / "expected.json").exists())


def target(fixture: Path) -> Path:
    db = fixture / "mlflow.db"
    return db if db.exists() else fixture / "mlruns"


def export(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["export", *args])
    out, err = capsys.readouterr()
    return code, out, err


def expected(fixture: Path) -> dict:
    return json.loads((fixture / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(params=STORES, ids=[p.name for p in STORES])
def fixture(request) -> Path:
    return request.param


def test_default_export_is_active_runs_of_active_experiments(fixture, capsys):
    exp = expected(fixture)
    active_exps = {
        e["experiment_id"] for e in exp["experiments"] if e["lifecycle_stage"] == "active"
    }
    want = {
        r["run_id"]: r
        for r in exp["runs"]
        if r["experiment_id"] in active_exps and r["lifecycle_stage"] == "active"
    }
    code, out, _ = export(capsys, str(target(fixture)))
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["run_id"] for r in records} == set(want)
    names = {e["experiment_id"]: e["name"] for e in exp["experiments"]}
    for record in records:
        run = want[record["run_id"]]
        assert record["experiment_name"] == names[record["experiment_id"]]
        for key in (
            "run_name",
            "status",
            "lifecycle_stage",
            "start_time",
            "end_time",
            "params",
            "metrics",
            "tags",
        ):
            assert record[key] == run[key], (record["run_id"], key)


def test_all_adds_deleted_runs_and_deleted_experiments(fixture, capsys):
    exp = expected(fixture)
    code, out, _ = export(capsys, str(target(fixture)), "--all")
    assert code == 0
    ids = {json.loads(line)["run_id"] for line in out.splitlines()}
    assert ids == {r["run_id"] for r in exp["runs"]}


def test_history_matches_mlflow(fixture, capsys):
    exp = expected(fixture)
    code, out, _ = export(capsys, str(target(fixture)), "--all", "--history")
    assert code == 0
    for line in out.splitlines():
        record = json.loads(line)
        want = exp["metric_history"][record["run_id"]]
        assert set(record["history"]) == set(want)
        for key, points in record["history"].items():
            assert sorted(points, key=repr) == sorted(want[key], key=repr), (record["run_id"], key)


def test_filter_and_order_by(fixture, capsys):
    exp = expected(fixture)
    rmse_key = next(
        (k for r in exp["runs"] for k, v in r["metrics"].items() if not isinstance(v, str)), None
    )
    if rmse_key is None:
        pytest.skip("no finite metric in this store")
    values = sorted(
        r["metrics"][rmse_key]
        for r in exp["runs"]
        if r["lifecycle_stage"] == "active" and isinstance(r["metrics"].get(rmse_key), float | int)
    )
    threshold = values[len(values) // 2]
    code, out, _ = export(
        capsys,
        str(target(fixture)),
        "--all",
        "--filter",
        f"metrics.`{rmse_key}` <= {threshold}",
        "--order-by",
        f"metrics.`{rmse_key}` DESC",
    )
    assert code == 0
    got = [json.loads(line)["metrics"][rmse_key] for line in out.splitlines()]
    assert got and all(v <= threshold for v in got)
    assert got == sorted(got, reverse=True)


def test_csv_has_mlflow_style_columns(fixture, capsys, tmp_path):
    out_file = tmp_path / "runs.csv"
    code, _, _ = export(capsys, str(target(fixture)), "--format", "csv", "-o", str(out_file))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    exp = expected(fixture)
    by_id = {r["run_id"]: r for r in exp["runs"]}
    assert rows
    for row in rows:
        run = by_id[row["run_id"]]
        for key, value in run["params"].items():
            assert row[f"params.{key}"] == value
        for key, value in run["metrics"].items():
            cell = row[f"metrics.{key}"]
            if isinstance(value, str):
                assert cell == value
            else:
                assert math.isclose(float(cell), value, rel_tol=1e-12)


def test_bad_filter_names_the_token_and_exits_2(capsys, tmp_path):
    out_file = tmp_path / "x.jsonl"
    code, _, err = export(
        capsys, str(target(STORES[0])), "--filter", "metrics.rmse => 7", "-o", str(out_file)
    )
    assert code == 2
    assert "=>" in err and len(err.strip().splitlines()) == 1
    assert not out_file.exists()


@pytest.mark.parametrize(
    "arg, words",
    [
        ("/nonexistent/mlruns", "no such file"),
        ("databricks://workspace", "remote"),
        ("http://127.0.0.1:1", "refused the connection"),
        ("s3://bucket/mlruns", "not a local store"),
    ],
)
def test_not_a_store_is_one_sentence_and_exit_2(arg, words):
    proc = subprocess.run(
        [sys.executable, "-m", "mltui.tui.cli", "export", arg], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert words in proc.stderr.lower()
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_folder_that_is_not_a_store(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    proc = subprocess.run(
        [sys.executable, "-m", "mltui.tui.cli", str(tmp_path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "not an MLflow store" in proc.stderr


@contextlib.contextmanager
def _tmpfs(folder: Path, options: str):
    """A small tmpfs mounted at `folder` (root only: skipped where mounting is not allowed)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _export_fails_cleanly(capsys, out_file: Path, *words: str) -> None:
    store = str(target(STORES[-1]))
    code, out, err = export(capsys, store, "--all", "--history", "-o", str(out_file))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and all(w in err for w in words), err


def test_output_into_a_missing_folder(capsys, tmp_path):
    _export_fails_cleanly(capsys, tmp_path / "missing" / "runs.jsonl", "missing", "No such file")
    assert _files(tmp_path) == []


def test_output_onto_a_folder(capsys, tmp_path):
    (tmp_path / "runs").mkdir()
    _export_fails_cleanly(capsys, tmp_path / "runs", "it is a folder")
    assert _files(tmp_path) == ["runs"]


def test_output_into_a_read_only_folder(capsys, tmp_path):
    folder = tmp_path / "ro"
    if os.geteuid() != 0:  # root writes through permissions: a read-only mount instead
        folder.mkdir()
        folder.chmod(0o555)
        _export_fails_cleanly(capsys, folder / "runs.jsonl", "Permission denied")
        assert _files(tmp_path) == ["ro"]
        return
    with _tmpfs(folder, "ro,size=64k"):
        _export_fails_cleanly(capsys, folder / "runs.jsonl", "Read-only file system")
        assert _files(folder) == []


def test_output_onto_a_full_disk(capsys, tmp_path):
    # The export with --history is ~31 KB: it cannot fit a 16 KB filesystem.
    with _tmpfs(tmp_path / "small", "size=16k") as folder:
        _export_fails_cleanly(capsys, folder / "runs.jsonl", "No space left on device")
        assert _files(folder) == []


def test_stdout_on_a_full_disk_is_one_line():
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "mltui.tui.cli", "export", str(target(STORES[-1])), "--history"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert proc.returncode == 2
    assert "No space left on device" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def _controls(text: str) -> list[str]:
    return [c for c in text if (ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) <= 0x9F]


def test_store_file_names_and_the_filter_are_printed_clean(capsys, tmp_path):
    """A name that sets the terminal's title (OSC 0) or clipboard (OSC 52) shows as text."""
    title, clipboard = "\x1b]0;pwned\x07", "\x1b]52;c;cm0gLXJmIH4=\x07"
    store = copy_fixture("mlflow-3.17.2-file", tmp_path) / "mlruns"
    metrics = next(store.glob("*/*/metrics"))
    (metrics / title).write_text("not a metric line\n")
    (metrics / clipboard).write_text("")
    code, _, err = export(capsys, str(store))
    assert code == 0
    assert "␛]0;pwned\\x07" in err and "␛]52;c;" in err
    assert _controls(err) == []
    code, _, err = export(capsys, str(store), "--filter", f"params.x = {title}\nrun")
    assert code == 2
    assert "␛]0;pwned" in err and len(err.strip().splitlines()) == 1
    assert _controls(err) == []


def test_output_to_a_fifo_writes_into_it_and_leaves_it_a_fifo(capsys, tmp_path):
    """`-o /dev/stdout` and the like: written in place, never replaced by a file."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # The FIFO itself, reachable even if its name is replaced: to let the reader go if need be.
    anchor = os.open(fifo, os.O_PATH)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    try:
        code, _, err = export(capsys, str(target(STORES[-1])), "-o", str(fifo))
    finally:
        if reader.is_alive():  # nothing opened the FIFO to write: its reader waits yet
            with open(f"/proc/self/fd/{anchor}", "wb"):
                pass
        reader.join()
        os.close(anchor)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert _files(tmp_path) == ["pipe"]
    assert [json.loads(line)["run_id"] for line in received[0].splitlines()]


def _mlflow_logged_models(uri: str, experiment_ids: list[str]) -> list[dict]:
    """MLflow's own search_logged_models, shaped as `mltui export --logged-models` writes."""
    from mlflow import MlflowClient

    models = MlflowClient(tracking_uri=uri).search_logged_models(
        experiment_ids=experiment_ids, max_results=1000
    )
    return [
        {
            "model_id": m.model_id,
            "name": m.name,
            "experiment_id": m.experiment_id,
            "source_run_id": m.source_run_id,
            "status": str(m.status),
            "params": m.params,
            "tags": m.tags,
            "metrics": sorted(
                (
                    {
                        "key": x.key,
                        "value": x.value,
                        "step": x.step,
                        "timestamp": x.timestamp,
                        "dataset_name": x.dataset_name,
                        "dataset_digest": x.dataset_digest,
                    }
                    for x in m.metrics or []
                ),
                key=_metric_order,
            ),
        }
        for m in models
    ]


def _metric_order(metric: dict) -> tuple:
    return (metric["key"], metric["dataset_name"] or "", metric["timestamp"], metric["step"])


@pytest.mark.parametrize("backend", ["file", "sqlite"])
def test_logged_models_equal_mlflows_search(backend, tmp_path, capsys, monkeypatch):
    """Field by field and in order, MLflow 3.18's search_logged_models run live on a copy, after
    MLflow logs a metric linked to a dataset at two steps."""
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    copy = copy_fixture(f"mlflow-3.18.0-{backend}", tmp_path)
    where = target(copy)
    uri = f"sqlite:///{where}" if backend == "sqlite" else where.as_uri()
    client = MlflowClient(tracking_uri=uri)
    exp_ids = [e.experiment_id for e in client.search_experiments()]
    model = next(m for m in client.search_logged_models(exp_ids) if m.source_run_id)
    for step, value in ((1, 0.5), (2, 0.75)):
        client.log_metric(
            model.source_run_id,
            "f1",
            value,
            step=step,
            dataset_name="holdout",
            dataset_digest="abc123",
            model_id=model.model_id,
        )
    want = _mlflow_logged_models(uri, exp_ids)

    code, out, err = export(capsys, str(where), "--logged-models")
    assert code == 0, err
    got = [json.loads(line) for line in out.splitlines()]
    for record in got:
        record["metrics"].sort(key=_metric_order)
    assert [r["model_id"] for r in got] == [w["model_id"] for w in want]
    assert got == want
    linked = [m for r in got for m in r["metrics"] if m["dataset_name"]]
    # MLflow's file store keeps the latest point per dataset, its SQL store every point.
    kept = [0.75] if backend == "file" else [0.5, 0.75]
    assert [(m["key"], m["value"], m["dataset_digest"]) for m in linked] == [
        ("f1", v, "abc123") for v in kept
    ]
    assert any(r["source_run_id"] is None for r in got)


def test_logged_models_refuse_run_options(capsys):
    fixture = FIXTURES / "mlflow-3.18.0-file"
    code, out, err = export(capsys, str(target(fixture)), "--logged-models", "--filter", "x")
    assert code == 2 and out == ""
    assert err.strip() == (
        "mltui: --logged-models writes JSON Lines of every model; --filter is for runs"
    )


def test_logged_models_of_one_experiment(capsys):
    fixture = FIXTURES / "mlflow-3.18.0-sqlite"
    code, out, _ = export(capsys, str(target(fixture)), "--logged-models", "--experiment", "1")
    assert code == 0 and out == ""  # experiment 1 has runs but no logged models
    code, out, _ = export(capsys, str(target(fixture)), "--logged-models", "--experiment", "10")
    assert len(out.splitlines()) == 4
