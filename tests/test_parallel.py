"""`Store.metric_series_many`: histories read in worker processes equal those read in place."""

from __future__ import annotations

import os
import sys
from concurrent.futures.process import BrokenProcessPool

import pytest

from store import open_store, parallel
from store.series import Series
from tests.conftest import FIXTURE_IDS, FIXTURE_STORES, copy_fixture, store_path

pytestmark = pytest.mark.skipif(
    "forkserver" not in __import__("multiprocessing").get_all_start_methods(),
    reason="worker processes need multiprocessing's fork server (POSIX)",
)


@pytest.fixture(autouse=True)
def _fresh_pool(tmp_path, monkeypatch):
    """Each test starts without a pool, sends every history to the workers, uses its own cache."""
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MLTUI_WORKERS", "2")
    monkeypatch.setattr(parallel, "MIN_JOB_BYTES", 1)
    monkeypatch.setattr(parallel, "MIN_JOB_STEPS", 0)
    parallel.shutdown()
    monkeypatch.setattr(parallel, "_unusable", False)
    yield
    parallel.shutdown()


def all_pairs(store) -> list[tuple[str, str]]:
    runs = store.runs(None, include_deleted=True)
    return [(run.run_id, key) for run in runs for key in sorted(run.metrics)]


def columns(series: Series) -> tuple:
    # Compared as bytes: NaN equals NaN, and -0.0 differs from 0.0.
    return series.steps.tobytes(), series.timestamps.tobytes(), series.values.tobytes()


@pytest.mark.parametrize("fixture", FIXTURE_STORES, ids=FIXTURE_IDS)
def test_workers_read_what_the_thread_reads(fixture):
    store = open_store(store_path(fixture))
    pairs = all_pairs(store)
    jobs = [pair for pair in pairs if store._series_job(*pair) is not None]
    assert len(jobs) >= 2, "the fixture should send its histories to the workers"
    before = parallel.worker_reads
    many = dict(store.metric_series_many(pairs))
    assert parallel.worker_reads - before == len(jobs)
    assert parallel._pool is not None and not parallel._unusable
    assert sorted(many) == sorted(pairs)
    for pair in pairs:
        assert columns(many[pair]) == columns(store.metric_series(*pair)), pair


def test_a_worker_warns_of_malformed_lines(tmp_path):
    target = copy_fixture("mlflow-3.17.2-file", tmp_path)
    store = open_store(target / "mlruns")
    pairs = all_pairs(store)
    run_id, key = pairs[0]
    path = store._metric_path(run_id, key)
    with open(path, "ab") as fh:
        fh.write(b"garbage line\n")
    many = dict(store.metric_series_many(pairs))
    assert f"{path}: 1 malformed line(s) ignored" in store.warnings.messages
    fresh = open_store(target / "mlruns")
    assert columns(many[(run_id, key)]) == columns(fresh.metric_series(run_id, key))


@pytest.mark.parametrize("fixture", FIXTURE_STORES, ids=FIXTURE_IDS)
def test_unknown_metrics_and_runs_come_back_empty(fixture):
    store = open_store(store_path(fixture))
    pairs = all_pairs(store)
    unknown = [(pairs[0][0], "no-such-metric"), ("0" * 32, pairs[0][1])]
    many = dict(store.metric_series_many(pairs + unknown))
    assert [len(many[pair]) for pair in unknown] == [0, 0]
    assert all(len(many[pair]) > 0 for pair in pairs)


def test_no_workers_when_told_so(monkeypatch):
    monkeypatch.setenv("MLTUI_WORKERS", "0")
    store = open_store(store_path(FIXTURE_STORES[0]))
    pairs = all_pairs(store)
    many = dict(store.metric_series_many(pairs))
    assert parallel._pool is None and parallel._unusable
    for pair in pairs:
        assert columns(many[pair]) == columns(store.metric_series(*pair))


def test_a_pool_that_stopped_taking_work_falls_back_to_the_thread():
    store = open_store(store_path(FIXTURE_STORES[0]))
    pairs = all_pairs(store)
    pool = parallel._executor()
    assert pool is not None
    pool.shutdown()  # still the module's pool, but submitting now raises
    many = dict(store.metric_series_many(pairs))
    assert parallel._unusable and parallel._pool is None
    for pair in pairs:
        assert columns(many[pair]) == columns(store.metric_series(*pair))


def test_a_worker_killed_midway_falls_back_to_the_thread():
    store = open_store(store_path(FIXTURE_STORES[-1]))
    pairs = all_pairs(store)
    pool = parallel._executor()
    assert pool is not None and pool.submit(os.getpid).result() != os.getpid()
    with pytest.raises(BrokenProcessPool):
        pool.submit(os._exit, 1).result()  # takes a worker down: the pool breaks
    many = dict(store.metric_series_many(pairs))
    assert parallel._unusable
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
    store = open_store(store_path(FIXTURE_STORES[-1]))
    pairs = all_pairs(store)
    many = dict(store.metric_series_many(pairs))
    assert parallel._pool is not None and not parallel._unusable
    assert len(many) == len(pairs)


def test_warm_starts_the_workers_in_the_background():
    parallel.warm()
    for _ in range(200):
        pool = parallel._pool
        if pool is not None and len(getattr(pool, "_processes", {})) == 2:
            break
        __import__("time").sleep(0.05)
    else:
        pytest.fail("warm() did not start two workers within 10 s")
