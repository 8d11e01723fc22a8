"""Broken files in a file store: skip what is broken with one warning, keep everything else."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

from mltui.store.errors import NotAStoreError
from mltui.store.file.reader import FileStore
from tests.conftest import FIXTURE_STORES, copy_fixture
from tests.readings import problems_reading, reading_of


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path / "cache"))


def _fixture_name(version: str) -> str:
    found = [
        p.name
        for p in FIXTURE_STORES
        if p.name.startswith(f"mlflow-{version}") and not (p / "mlflow.db").is_file()
    ]
    if not found:
        pytest.skip(f"no MLflow {version} file fixture")
    return found[-1]


@pytest.fixture(params=["1", "3"])
def mlruns(request, tmp_path) -> Path:
    """A private copy of a fixture file store (MLflow 1 and 3) that a test may break."""
    return copy_fixture(_fixture_name(request.param), tmp_path) / "mlruns"


@pytest.fixture
def mlruns3(tmp_path) -> Path:
    return copy_fixture(_fixture_name("3"), tmp_path) / "mlruns"


def _open(mlruns: Path) -> FileStore:
    return FileStore(mlruns, use_cache=False)


def _run_dir(mlruns: Path, run_name: str) -> tuple[str, Path]:
    store = _open(mlruns)
    run = next(r for r in store.runs(include_deleted=True) if r.run_name == run_name)
    return run.run_id, next(mlruns.glob(f"*/{run.run_id}"))


def _exp_dir(mlruns: Path, name: str) -> Path:
    exp = _open(mlruns).experiment_by_name_or_id(name)
    return mlruns / exp.experiment_id


def _warned(store: FileStore, *parts: str) -> list[str]:
    return [m for m in store.warnings.messages if all(p in m for p in parts)]


@pytest.mark.parametrize("content", ["", "   \n", "name: [unclosed\n", "just a sentence\n"])
def test_broken_experiment_meta_skips_that_experiment(mlruns, content):
    exp_dir = _exp_dir(mlruns, "nested runs")
    (exp_dir / "meta.yaml").write_text(content)
    store = _open(mlruns)
    names = {e.name for e in store.experiments(include_deleted=True)}
    assert "nested runs" not in names
    assert {"elasticnet-sweep", "run statuses", "Default"} <= names
    assert _warned(store, str(exp_dir / "meta.yaml"))
    # Its runs are not listed either, and everything else still reads.
    assert "parent" not in {r.run_name for r in store.runs()}
    assert {"sweep-0", "finished-run"} <= {r.run_name for r in store.runs()}
    reading_of(store)


@pytest.mark.parametrize("content", ["", "run_id: [\n", "- a\n- b\n", "\x00\x01binary"])
def test_broken_run_meta_skips_that_run(mlruns, content):
    run_id, run_dir = _run_dir(mlruns, "sweep-1")
    (run_dir / "meta.yaml").write_bytes(content.encode())
    store = _open(mlruns)
    names = {r.run_name for r in store.runs()}
    assert "sweep-1" not in names and {"sweep-0", "sweep-2"} <= names
    assert _warned(store, str(run_dir / "meta.yaml"))
    assert store.run(run_id) is None
    reading_of(store)


def test_folder_where_a_file_is_expected(mlruns):
    _run_id, run_dir = _run_dir(mlruns, "sweep-2")
    (run_dir / "meta.yaml").unlink()
    (run_dir / "meta.yaml").mkdir()
    _other_id, other_dir = _run_dir(mlruns, "sweep-3")
    for sub in ("metrics", "tags"):
        for child in (other_dir / sub).rglob("*"):
            if child.is_file():
                child.unlink()
        for child in sorted((other_dir / sub).rglob("*"), reverse=True):
            child.rmdir()
        (other_dir / sub).rmdir()
        (other_dir / sub).write_text("not a folder")
    store = _open(mlruns)
    runs = {r.run_name: r for r in store.runs()}
    assert "sweep-2" not in runs
    assert _warned(store, str(run_dir / "meta.yaml"), "cannot be read")
    # A run whose metrics/ and tags/ are files still shows, with what could be read.
    assert runs["sweep-3"].metrics == {} and runs["sweep-3"].params["alpha"] == "0.5"
    assert _warned(store, str(other_dir / "metrics"), "folder was expected")


def test_half_written_last_metric_line_is_ignored(mlruns):
    run_id, run_dir = _run_dir(mlruns, "sweep-0")
    before = _open(mlruns).run(run_id)
    history_before = _open(mlruns).metric_history(run_id, "rmse")
    with open(run_dir / "metrics" / "rmse", "ab") as fh:
        fh.write(b"1795 0.")  # MLflow would read this as a point at step 0 with value 0.0
    store = _open(mlruns)
    after = store.run(run_id)
    assert after.metrics["rmse"] == before.metrics["rmse"]
    assert store.metric_history(run_id, "rmse") == history_before
    assert store.warnings.messages == []


def test_garbage_metric_lines_are_skipped_with_a_warning(mlruns):
    run_id, run_dir = _run_dir(mlruns, "sweep-0")
    path = run_dir / "metrics" / "loss" / "train"
    good = _open(mlruns).metric_history(run_id, "loss/train")
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(3, b"this is not a metric\n")
    lines.insert(7, b"123 notafloat 4\n")
    lines.append(b"1 2 3 4\n")  # four fields: no MLflow version writes that in a run
    path.write_bytes(b"".join(lines))
    store = _open(mlruns)
    assert store.metric_history(run_id, "loss/train") == good
    assert store.run(run_id).metrics["loss/train"] == max(
        good, key=lambda m: (m.step, m.timestamp, m.value)
    )
    assert _warned(store, str(path), "3 malformed line(s)")


def test_empty_metric_file_is_skipped(mlruns):
    run_id, run_dir = _run_dir(mlruns, "sweep-0")
    (run_dir / "metrics" / "r2").write_bytes(b"")
    store = _open(mlruns)
    run = store.run(run_id)
    assert "r2" not in run.metrics and "rmse" in run.metrics
    assert _warned(store, str(run_dir / "metrics" / "r2"), "empty")


def test_invalid_utf8_tag_is_replaced_and_warned(mlruns):
    run_id, run_dir = _run_dir(mlruns, "sweep-0")
    (run_dir / "tags" / "sweep.index").write_bytes(b"caf\xe9")
    store = _open(mlruns)
    assert store.run(run_id).tags["sweep.index"] == "caf\ufffd"
    assert _warned(store, "sweep.index", "UTF-8")


def test_unreadable_files(mlruns):
    run_id, run_dir = _run_dir(mlruns, "sweep-0")
    param = run_dir / "params" / "alpha"
    tags = run_dir / "tags"
    param.chmod(0)
    tags.chmod(0)
    try:
        store = _open(mlruns)
        run = store.run(run_id)
        assert run is not None and "l1_ratio" in run.params
        if os.geteuid() == 0:
            # Tests run as root here, where permissions do not stop reads.
            assert run.params["alpha"] == "0.1"
        else:
            assert "alpha" not in run.params
            assert _warned(store, str(param), "cannot be read")
            assert _warned(store, str(tags), "cannot be listed")
    finally:
        param.chmod(0o644)
        tags.chmod(0o755)


def test_wrong_ids_are_skipped_as_mlflow_does(mlruns3):
    exp_dir = _exp_dir(mlruns3, "run statuses")
    meta = exp_dir / "meta.yaml"
    meta.write_text(meta.read_text().replace(f"'{exp_dir.name}'", "'999'"))
    _run_id, run_dir = _run_dir(mlruns3, "sweep-4")
    run_meta = run_dir / "meta.yaml"
    run_meta.write_text(
        run_meta.read_text().replace(
            f"experiment_id: '{run_dir.parent.name}'", "experiment_id: '7'"
        )
    )
    store = _open(mlruns3)
    assert "run statuses" not in {e.name for e in store.experiments()}
    assert "sweep-4" not in {r.run_name for r in store.runs()}
    assert _warned(store, str(meta), "differs from its folder")
    assert _warned(store, str(run_meta), "experiment_id '7'")


def test_odd_run_meta_values(mlruns3):
    run_id, run_dir = _run_dir(mlruns3, "sweep-5")
    meta = run_dir / "meta.yaml"
    text = meta.read_text()
    # Drop status (MLflow reads a missing status as RUNNING) and lifecycle_stage (active).
    lines = [
        line
        for line in text.splitlines()
        if not line.startswith(("status:", "lifecycle_stage:", "run_name:"))
    ]
    meta.write_text("\n".join(lines) + "\n")
    run = _open(mlruns3).run(run_id)
    assert run.status == "RUNNING" and run.lifecycle_stage == "active"
    assert run.run_name == "sweep-5"  # from the mlflow.runName tag
    meta.write_text(text.replace("status: 3", "status: 42"))
    store = _open(mlruns3)
    assert store.run(run_id) is not None
    assert _warned(store, str(meta), "unknown status 42")


def test_broken_registry_and_dataset_files(mlruns3):
    version_meta = mlruns3 / "models" / "wine-classifier" / "version-4" / "meta.yaml"
    version_meta.write_text("version: [\n")
    run_id, run_dir = _run_dir(mlruns3, "sweep-0")
    datasets = run_dir.parent / "datasets"
    gone = sorted(datasets.iterdir())[0]
    for f in gone.iterdir():
        f.unlink()
    gone.rmdir()
    store = _open(mlruns3)
    versions = [v.version for v in store.model_versions("wine-classifier")]
    assert versions == ["5", "2", "1"]
    assert _warned(store, str(version_meta))
    run = store.run(run_id)
    assert len(run.inputs) == 1  # one of its two datasets is gone
    assert _warned(store, gone.name, "not found")
    assert not math.isnan(run.metrics["r2"].value)


def test_not_a_store(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotAStoreError, match="not an MLflow file store"):
        FileStore(tmp_path / "empty")
    (tmp_path / "nums" / "5").mkdir(parents=True)  # a digit folder without meta.yaml
    with pytest.raises(NotAStoreError):
        FileStore(tmp_path / "nums")
    with pytest.raises(NotAStoreError, match="not a folder"):
        FileStore(tmp_path / "nope")


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            out[os.path.relpath(path, root)] = (st.st_mtime_ns, st.st_size, st.st_mode)
    st = os.lstat(root)
    out["."] = (st.st_mtime_ns, st.st_size, st.st_mode)
    return out


def test_reading_never_writes_into_the_store(mlruns, monkeypatch, tmp_path):
    from mltui.store.artifacts import list_artifacts, read_text_preview

    monkeypatch.setattr("mltui.store.file.runs.CACHE_MIN_RUNS", 1)
    before = _snapshot(mlruns.parent)
    for _ in range(2):  # the second pass reads through the scan cache
        store = FileStore(mlruns)
        reading_of(store)
        for run in store.runs(include_deleted=True):
            root = store.artifact_root(run)
            for entry in list_artifacts(root):
                if not entry.is_dir:
                    read_text_preview(root, entry.path)
        store.logged_models()
    assert _snapshot(mlruns.parent) == before
    assert any((tmp_path / "cache").iterdir())  # the cache went to the cache folder


# -- meta.yaml fields of the wrong type or out of range ----------------------------------------
#: YAML scalars a hand-edited meta.yaml can hold where MLflow writes an id, a name or a time.
HOSTILE_SCALARS = {
    "int": "7",
    "huge int": "99999999999999999999999",  # beyond 64 bits; as a time, past year 9999
    "inf": ".inf",
    "text": "abc",
    "binary": "!!binary AP8bXTA7eAc=",
    "null": "null",
}


def _meta_fields(meta: Path) -> list[str]:
    return [line.split(":", 1)[0] for line in meta.read_text().splitlines() if ":" in line]


@pytest.mark.parametrize("which", ["run", "experiment"])
def test_every_meta_field_holding_every_scalar_reads_and_exports(mlruns3, capsys, which):
    """Each (field, value) of a run's or an experiment's meta.yaml: export and reading finish.

    Before times were checked, 8 of these 138 raised (`.inf`, and times past year 9999).
    """
    _, run_dir = _run_dir(mlruns3, "sweep-1")
    # Only this run and its experiment: the sweep reads the store a hundred times.
    for other in [*mlruns3.iterdir(), *run_dir.parent.iterdir()]:
        if other.is_dir() and other not in (run_dir, run_dir.parent) and other.name[0] != ".":
            shutil.rmtree(other)
    meta = run_dir / "meta.yaml" if which == "run" else run_dir.parent / "meta.yaml"
    pristine = meta.read_text()
    failures, tried = [], 0
    for field in _meta_fields(meta):
        for label, value in HOSTILE_SCALARS.items():
            lines = [
                f"{field}: {value}" if line.startswith(f"{field}:") else line
                for line in pristine.splitlines()
            ]
            meta.write_text("\n".join(lines) + "\n")
            tried += 1
            problems = problems_reading(mlruns3, capsys)
            if problems:
                failures.append(f"{field} = {label}: {'; '.join(problems)}")
    assert tried >= 6 * len(HOSTILE_SCALARS)
    assert not failures, f"{len(failures)} of {tried} failed:\n" + "\n".join(failures)


@pytest.mark.parametrize("lines", [1, 3])
def test_metric_steps_and_times_beyond_64_bits_are_skipped(mlruns3, lines):
    """A chart's arrays (and MLflow's SQL stores) hold 64-bit integers: such points are skipped."""
    run_id, run_dir = _run_dir(mlruns3, "sweep-1")
    huge = "99999999999999999999999"
    good = [f"{1_700_000_000_000 + i} {i}.5 {i}" for i in range(lines - 1)]
    bad = [f"1700000000000 9.0 {huge}", f"{huge} 8.0 7", f"1700000000000 7.0 -{huge}"]
    path = run_dir / "metrics" / "huge"
    path.write_text("\n".join(bad[: max(1, lines)] + good) + "\n")
    store = _open(mlruns3)
    run = store.run(run_id)
    series = store.metric_series(run_id, "huge")
    assert list(series.steps) == list(range(lines - 1))
    assert [m.step for m in store.metric_history(run_id, "huge")] == list(range(lines - 1))
    if lines == 1:
        assert "huge" not in run.metrics
    else:
        assert run.metrics["huge"].step == lines - 2
    assert _warned(store, str(path), "malformed line")


@pytest.mark.parametrize("given", [[], ["missing"]])
def test_nothing_to_open_is_one_line_and_status_2(tmp_path, monkeypatch, capsys, given):
    """No store here, or a path that is none: one line on stderr, exit status 2, no app."""
    from mltui.tui.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(given) == 2
    err = capsys.readouterr().err
    assert err.startswith("mltui: ") and err.count("\n") == 1, err
    assert {p.name for p in tmp_path.iterdir()} <= {"cache"}  # nothing made here
