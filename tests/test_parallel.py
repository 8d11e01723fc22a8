"""Work done in worker processes equals the same work done in place.

`Store.metric_series_many` (long histories) and a file store's first scan (run folders).
"""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

import pytest

from mltui.store import Store, open_store, parallel
from mltui.store.export import run_record
from mltui.store.file import runs as file_runs
from mltui.store.file.reader import FileStore
from mltui.store.series import Series
from tests.conftest import FIXTURE_IDS, FIXTURE_STORES, copy_fixture, store_path

pytestmark = pytest.mark.skipif(
    "forkserver" not in __import__("multiprocessing").get_all_start_methods(),
    reason="worker processes need multiprocessing's fork server (POSIX)",
)


#: Stores a test opened: each owns its worker pool, which closing the store stops.
_opened: list[Store] = []


def opened(path) -> Store:
    _opened.append(open_store(path))
    return _opened[-1]


def file_at(path, **kwargs) -> FileStore:
    _opened.append(FileStore(path, **kwargs))
    return _opened[-1]  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def _fresh_pool(tmp_path, monkeypatch):
    """Each test sends every history to the workers, uses its own cache, and stops the workers
    of every store it opened."""
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLTUI_WORKERS", "2")
    monkeypatch.setattr(parallel, "MIN_JOB_BYTES", 1)
    monkeypatch.setattr(parallel, "MIN_JOB_STEPS", 0)
    yield
    while _opened:
        _opened.pop().close()


def all_pairs(store) -> list[tuple[str, str]]:
    runs = store.runs(None, include_deleted=True)
    return [(run.run_id, key) for run in runs for key in sorted(run.metrics)]


def columns(series: Series) -> tuple:
    # Compared as bytes: NaN equals NaN, and -0.0 differs from 0.0.
    return series.steps.tobytes(), series.timestamps.tobytes(), series.values.tobytes()


@pytest.mark.parametrize("fixture", FIXTURE_STORES, ids=FIXTURE_IDS)
def test_workers_read_what_the_thread_reads(fixture):
    store = opened(store_path(fixture))
    pairs = all_pairs(store)
    jobs = [pair for pair in pairs if store.series_job(*pair) is not None]
    assert len(jobs) >= 2, "the fixture should send its histories to the workers"
    many = dict(store.metric_series_many(pairs))
    assert store.workers.reads == len(jobs)
    assert store.workers.started and not store.workers.unusable
    assert sorted(many) == sorted(pairs)
    for pair in pairs:
        assert columns(many[pair]) == columns(store.metric_series(*pair)), pair


def test_a_worker_warns_of_malformed_lines(tmp_path):
    target = copy_fixture("mlflow-3.17.2-file", tmp_path)
    store = opened(target / "mlruns")
    pairs = all_pairs(store)
    run_id, key = pairs[0]
    path = store._metric_path(run_id, key)
    with open(path, "ab") as fh:
        fh.write(b"garbage line\n")
    many = dict(store.metric_series_many(pairs))
    assert f"{path}: 1 malformed line(s) ignored" in store.warnings.messages
    fresh = opened(target / "mlruns")
    assert columns(many[(run_id, key)]) == columns(fresh.metric_series(run_id, key))


@pytest.mark.parametrize("fixture", FIXTURE_STORES, ids=FIXTURE_IDS)
def test_unknown_metrics_and_runs_come_back_empty(fixture):
    store = opened(store_path(fixture))
    pairs = all_pairs(store)
    unknown = [(pairs[0][0], "no-such-metric"), ("0" * 32, pairs[0][1])]
    many = dict(store.metric_series_many(pairs + unknown))
    assert [len(many[pair]) for pair in unknown] == [0, 0]
    assert all(len(many[pair]) > 0 for pair in pairs)


def test_no_workers_when_told_so(monkeypatch):
    monkeypatch.setenv("MLTUI_WORKERS", "0")
    store = opened(store_path(FIXTURE_STORES[0]))
    pairs = all_pairs(store)
    many = dict(store.metric_series_many(pairs))
    assert not store.workers.started and store.workers.unusable
    for pair in pairs:
        assert columns(many[pair]) == columns(store.metric_series(*pair))


def test_a_pool_that_stopped_taking_work_falls_back_to_the_thread():
    store = opened(store_path(FIXTURE_STORES[0]))
    pairs = all_pairs(store)
    pool = store.workers.executor()
    assert pool is not None
    pool.shutdown()  # still the store's pool, but submitting now raises
    many = dict(store.metric_series_many(pairs))
    assert store.workers.unusable and not store.workers.started
    for pair in pairs:
        assert columns(many[pair]) == columns(store.metric_series(*pair))


def test_a_worker_killed_midway_falls_back_to_the_thread():
    store = opened(store_path(FIXTURE_STORES[-1]))
    pairs = all_pairs(store)
    pool = store.workers.executor()
    assert pool is not None and pool.submit(os.getpid).result() != os.getpid()
    with pytest.raises(BrokenProcessPool):
        pool.submit(os._exit, 1).result()  # takes a worker down: the pool breaks
    many = dict(store.metric_series_many(pairs))
    assert store.workers.unusable
    for pair in pairs:
        assert columns(many[pair]) == columns(store.metric_series(*pair))


def test_the_pool_starts_under_a_captured_stderr(monkeypatch):
    """Inside a Textual app, sys.stderr has no descriptor (fileno() is -1)."""

    class Captured:
        def write(self, text: str) -> int:
            return len(text)

        def flush(self) -> None:
            pass

        def fileno(self) -> int:
            return -1

    monkeypatch.setattr(sys, "stderr", Captured())
    store = opened(store_path(FIXTURE_STORES[-1]))
    pairs = all_pairs(store)
    many = dict(store.metric_series_many(pairs))
    assert store.workers.started and not store.workers.unusable
    assert len(many) == len(pairs)


def test_warm_starts_the_workers_in_the_background():
    workers = opened(store_path(FIXTURE_STORES[-1])).workers
    workers.warm()
    for _ in range(200):
        pool = workers.executor() if workers.started else None
        if pool is not None and len(getattr(pool, "_processes", {})) == 2:
            break
        __import__("time").sleep(0.05)
    else:
        pytest.fail("warm() did not start two workers within 10 s")


# -- a file store's first scan ----------------------------------------------------------------
FILE_FIXTURES = [p for p in FIXTURE_STORES if not (p / "mlflow.db").is_file()]


@pytest.fixture
def scan_in_workers(monkeypatch):
    """Every run after the first two goes to the workers, two folders a job, and is cached."""
    monkeypatch.setattr(file_runs, "BATCH_SIZE", 2)
    monkeypatch.setattr(file_runs, "FIRST_BATCH", 1)
    monkeypatch.setattr(file_runs, "CACHE_MIN_RUNS", 1)
    monkeypatch.setattr(parallel, "MIN_SCAN_RUNS", 1)
    monkeypatch.setattr(parallel, "SCAN_CHUNK", 2)


def reading(store) -> list[str]:
    """Every run (deleted ones too) as JSON text: NaN and infinities compare as text."""
    runs = store.runs(None, include_deleted=True)
    return [json.dumps(run_record(run, ""), sort_keys=True) for run in runs]


def read_in_thread(path, monkeypatch) -> list[str]:
    with monkeypatch.context() as m:
        m.setenv("MLTUI_WORKERS", "0")
        return reading(file_at(path, use_cache=False))


@pytest.mark.parametrize("fixture", FILE_FIXTURES, ids=[p.name for p in FILE_FIXTURES])
def test_a_first_scan_in_workers_reads_what_the_thread_reads(fixture, scan_in_workers, monkeypatch):
    path = fixture / "mlruns"
    expected = read_in_thread(path, monkeypatch)
    assert len(expected) > 2, "the fixture should leave runs for the workers"
    store = file_at(path)
    assert reading(store) == expected
    assert store.workers.jobs > 0
    assert store.warnings.messages == []
    # What the workers read was cached: reopening reads it all back without them.
    again = file_at(path)
    assert reading(again) == expected
    assert again.workers.jobs == 0
    cache = again._scan_cache()
    assert len(cache.entries) >= len(expected)
    assert all(cache.get(key, str(path) + "/" + key) is not None for key in cache.entries), (
        "every cached run should be found unchanged"
    )


def test_a_first_scan_in_workers_warns_and_caches_nothing_it_warned_of(
    tmp_path, scan_in_workers, monkeypatch
):
    target = copy_fixture("mlflow-3.17.2-file", tmp_path) / "mlruns"
    store = file_at(target, use_cache=False)
    runs = store.runs(None, include_deleted=True)
    run_dirs = sorted(store._run_dirs.values())
    broken_meta = run_dirs[-1] + "/meta.yaml"
    with open(broken_meta, "w") as fh:
        fh.write("run_id: [unclosed\n")
    garbled = next(r for r in runs if r.metrics and store._run_dirs[r.run_id] != run_dirs[-1])
    metric_file = store._metric_path(garbled.run_id, sorted(garbled.metrics)[0])
    with open(metric_file, "ab") as fh:
        fh.write(b"garbage line\n")

    expected = read_in_thread(target, monkeypatch)
    fresh = file_at(target)
    assert reading(fresh) == expected
    assert len(expected) == len(runs) - 1
    assert fresh.workers.jobs > 0
    messages = fresh.warnings.messages
    assert any(m.startswith(f"{broken_meta}: malformed YAML") for m in messages), messages
    assert f"{metric_file}: 1 malformed line(s) ignored" in messages
    keys = fresh._scan_cache().entries
    root = str(target) + "/"
    assert run_dirs[-1].removeprefix(root) not in keys
    assert store._run_dirs[garbled.run_id].removeprefix(root) not in keys
    # Warned again when reopened: what warned was not cached.
    again = file_at(target)
    reading(again)
    assert f"{metric_file}: 1 malformed line(s) ignored" in again.warnings.messages


def test_a_first_scan_falls_back_to_the_thread_when_a_worker_dies(scan_in_workers, monkeypatch):
    path = FILE_FIXTURES[-1] / "mlruns"
    expected = read_in_thread(path, monkeypatch)
    store = file_at(path)
    pool = store.workers.executor()
    assert pool is not None
    with pytest.raises(BrokenProcessPool):
        pool.submit(os._exit, 1).result()
    assert reading(store) == expected
    assert store.workers.unusable


def test_warm_for_starts_workers_only_for_runs_with_long_histories(monkeypatch):
    monkeypatch.setattr(parallel, "MIN_JOB_STEPS", 50_000)
    store = opened(store_path(FIXTURE_STORES[-1]))
    runs = [
        run
        for run in store.runs(None, include_deleted=True)
        if run.metrics and all(m.step < 1000 for m in run.metrics.values())
    ]
    assert runs
    store.workers.warm_for(runs)  # short histories
    assert not store.workers.started and not store.workers.warmed
    run = runs[0]
    key = next(iter(run.metrics))
    run.metrics[key] = replace(run.metrics[key], step=parallel.MIN_JOB_STEPS)
    store.workers.warm_for([run])
    assert store.workers.warmed


def test_closing_a_store_stops_its_workers():
    store = opened(store_path(FIXTURE_STORES[-1]))
    dict(store.metric_series_many(all_pairs(store)))
    assert store.workers.started and store.workers.reads > 0
    store.close()
    assert not store.workers.started
