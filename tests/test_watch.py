"""Following a store live (store/follow/, store/file/follower.py, store/sqlite/follower.py), against real writers in other processes.

MLflow's own client writes to copies of the fixture stores (one subprocess for both backends,
since importing MLflow takes seconds); raw writers append metric lines as MLflow does. Every
scenario runs with file events and with forced polling. Waits poll for up to WAIT seconds.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

from mltui.store import open_store, synth
from mltui.store.entities import LIVE_STATUSES, Metric
from mltui.store.file import followed as file_followed
from mltui.store.follow import Shown, StoreChanges, StoreFollower
from mltui.store.follow import follower as watch
from mltui.store.follow.follower import network_filesystem
from mltui.store.sqlite import follower as sqlite_follower
from tests.conftest import copy_fixture, store_path

WAIT = 10.0
MODES = {"events": None, "polling": 0.2}


class Collector:
    """The callback: keeps every change set, and answers "eventually" questions by polling."""

    def __init__(self) -> None:
        self.changes: list[StoreChanges] = []
        self.lock = threading.Lock()

    def __call__(self, changes: StoreChanges) -> None:
        with self.lock:
            self.changes.append(changes)

    def snapshot(self) -> list[StoreChanges]:
        with self.lock:
            return list(self.changes)

    def points(self, run_id: str, key: str) -> list[Metric]:
        return [p for c in self.snapshot() for p in c.metric_points.get((run_id, key), [])]

    def runs(self) -> set[str]:
        return {r for c in self.snapshot() for r in c.runs}

    def union(self, field: str) -> set:
        """Every item of this StoreChanges field across the change sets."""
        return {x for c in self.snapshot() for x in getattr(c, field)}

    def deleted_runs(self) -> set[str]:
        return {r for c in self.snapshot() for r in c.deleted_runs}

    def wait_for(self, predicate, what: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        assert predicate(), f"timed out waiting for {what}; got {self.snapshot()}"


def follow(store, mode: str, **kwargs) -> tuple[StoreFollower, Collector]:
    follower = StoreFollower(store, poll_seconds=MODES[mode], **kwargs)
    collector = Collector()
    follower.start(collector)
    assert follower.wait_ready(WAIT), "the follower never finished its baseline"
    assert follower.mode == mode, follower.notice
    return follower, collector


@pytest.fixture
def followers():
    started: list[StoreFollower] = []
    yield started
    for follower in started:
        follower.stop()


def first_metric_file(root: Path) -> tuple[str, str, Path]:
    """(run_id, key, path) of an existing metric file of an active run in a file store."""
    store = open_store(root)
    for run in store.runs():
        for key in sorted(run.metrics):
            path = root / run.experiment_id / run.run_id / "metrics" / key
            if path.is_file() and "/" not in key:
                return run.run_id, key, path
    raise AssertionError("no metric file in the fixture")


def run_python(
    code: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> str:
    """`code` run in another process; MLflow's registry calls leave an mlflow.db in `cwd`."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


# -- (1) MLflow's own client, one writer process for both backends and both modes -----------

MLFLOW_WRITER = """
import json, sys
from mlflow import MlflowClient
from mlflow.entities import Metric
out = {}
for name, uri, victim in json.loads(sys.argv[1]):
    c = MlflowClient(tracking_uri=uri)
    run = c.create_run("0", run_name="live-run")
    rid = run.info.run_id
    c.log_param(rid, "lr", "0.01")
    c.set_tag(rid, "phase", "warmup")
    for step in range(5):
        c.log_metric(rid, "loss", 1.0 / (step + 1), step=step, timestamp=1000 + step)
    c.log_batch(rid, metrics=[Metric("val/loss", 0.5 * i, 2000 + i, i) for i in range(3)])
    c.log_metric(rid, "odd", float("nan"), step=7, timestamp=3000)
    c.set_terminated(rid)
    c.delete_run(victim)
    out[name] = rid
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def mlflow_written(tmp_path_factory):
    """Copies of both fixture stores, followed in both modes while MLflow writes to them."""
    tmp = tmp_path_factory.mktemp("mlflow-live")
    stores = {
        "file": store_path(copy_fixture("mlflow-3.17.2-file", tmp)),
        "sqlite": store_path(copy_fixture("mlflow-3.17.2-sqlite", tmp)),
    }
    uris = {"file": stores["file"].as_uri(), "sqlite": f"sqlite:///{stores['sqlite']}"}
    followers, collectors, victims = [], {}, {}
    try:
        for backend, path in stores.items():
            store = open_store(path)
            victims[backend] = next(r.run_id for r in store.runs() if r.status == "FINISHED")
            for mode in MODES:
                follower, collector = follow(store, mode)
                followers.append(follower)
                collectors[(backend, mode)] = collector
        spec = [[b, uris[b], victims[b]] for b in stores]
        out = run_python(
            MLFLOW_WRITER.replace("sys.argv[1]", repr(json.dumps(spec))),
            env={"MLFLOW_ALLOW_FILE_STORE": "true"},
        )
        run_ids = json.loads(out.strip().splitlines()[-1])
        yield collectors, run_ids, victims
    finally:
        for follower in followers:
            follower.stop()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["file", "sqlite"])
def test_mlflow_client_run_and_points_are_reported(mlflow_written, backend, mode):
    collectors, run_ids, victims = mlflow_written
    collector, rid = collectors[(backend, mode)], run_ids[backend]
    expected_loss = [Metric("loss", 1.0 / (s + 1), 1000 + s, s) for s in range(5)]
    collector.wait_for(lambda: rid in collector.runs(), "the new run")
    collector.wait_for(lambda: len(collector.points(rid, "loss")) >= 5, "the loss points")
    collector.wait_for(lambda: len(collector.points(rid, "val/loss")) >= 3, "val/loss")
    collector.wait_for(lambda: collector.points(rid, "odd"), "the NaN point")
    collector.wait_for(lambda: victims[backend] in collector.deleted_runs(), "the deleted run")
    # Exactly once each, whole, in the order they were logged.
    assert collector.points(rid, "loss") == expected_loss
    assert collector.points(rid, "val/loss") == [
        Metric("val/loss", 0.5 * i, 2000 + i, i) for i in range(3)
    ]
    (odd,) = collector.points(rid, "odd")
    assert math.isnan(odd.value) and odd.step == 7
    # Points that were in the store before the follower started are never reported.
    assert {run for c in collector.snapshot() for run, _ in c.metric_points} == {rid}
    assert victims[backend] not in collector.runs() - collector.deleted_runs()
    assert all(c for c in collector.snapshot()), "a callback got an empty change set"
    # Runs and points are no registry change (SQLite compares the registry after commits).
    assert not any(c.registry for c in collector.snapshot())


# -- (2) a raw writer: a line split across two writes ------------------------------------------

SPLIT_WRITER = """
import sys, time
path = sys.argv[1]
def append(text):
    with open(path, "a") as fh:  # as MLflow's append_to: open, write, close
        fh.write(text)
append("1700000000000 0.5 100\\n")
append("1700000000001 0.2")        # half a line ...
time.sleep(0.8)                     # ... long enough for the follower to look at it
append("5 101\\n1700000000002 -inf 102\\n")
append("1700000000003 1e-05 103\\n")
"""


@pytest.mark.parametrize("mode", MODES)
def test_split_line_comes_out_once_whole_in_order(tmp_path, followers, monkeypatch, mode):
    # Verify scans while the writer writes: a working event stream must not be taken for a
    # dead one (the fall-back check), nor the half line read by a scan.
    monkeypatch.setattr(watch, "VERIFY_SECONDS", 0.2)
    root = store_path(copy_fixture("mlflow-3.17.2-file", tmp_path))
    run_id, key, path = first_metric_file(root)
    follower, collector = follow(open_store(root), mode)
    followers.append(follower)
    run_python(SPLIT_WRITER.replace("sys.argv[1]", repr(str(path))))
    expected = [
        Metric(key, 0.5, 1700000000000, 100),
        Metric(key, 0.25, 1700000000001, 101),
        Metric(key, -math.inf, 1700000000002, 102),
        Metric(key, 1e-05, 1700000000003, 103),
    ]
    collector.wait_for(lambda: len(collector.points(run_id, key)) >= 4, "four points")
    time.sleep(0.5)  # room for a wrong extra point (the half line, a repeat) to show up
    assert collector.points(run_id, key) == expected
    assert follower.mode == mode, follower.notice


# -- (3) a burst of 5,000 points ------------------------------------------------------------------

BURST_WRITER = """
import sys
path = sys.argv[1]
for i in range(5000):
    with open(path, "a") as fh:
        fh.write(f"{1700000000000 + i} {i * 0.5!r} {i}\\n")
"""


@pytest.mark.parametrize("mode", MODES)
def test_burst_is_coalesced_and_complete(tmp_path, followers, monkeypatch, mode):
    monkeypatch.setattr(watch, "VERIFY_SECONDS", 0.2)
    root = store_path(copy_fixture("mlflow-3.17.2-file", tmp_path))
    run_id, key, path = first_metric_file(root)
    follower, collector = follow(open_store(root), mode)
    followers.append(follower)
    run_python(BURST_WRITER.replace("sys.argv[1]", repr(str(path))))
    collector.wait_for(lambda: len(collector.points(run_id, key)) >= 5000, "5,000 points")
    time.sleep(0.5)
    points = collector.points(run_id, key)
    assert points == [Metric(key, i * 0.5, 1700000000000 + i, i) for i in range(5000)]
    calls = collector.snapshot()
    # 5,000 appends (each its own open/write/close) came out in a handful of callbacks.
    assert len(calls) <= 25, [c.point_count for c in calls]
    assert follower.mode == mode, follower.notice


# -- (3b) the model registry ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["file", "sqlite"])
def test_registry_writes_are_reported(tmp_path, followers, monkeypatch, backend, mode):
    """Each kind of registry write is seen, rows added and values changed in place, within a
    few seconds: by its events, not the verify scan (5 s), even writes in quick succession
    (SQLite looks at the registry at most once a second, and then at what it put off)."""
    from mltui.store.registry import RegistryWriter

    fixture = "mlflow-3.17.2-file" if backend == "file" else "mlflow-3.17.2-sqlite"
    store = open_store(store_path(copy_fixture(fixture, tmp_path)))
    follower, collector = follow(store, mode)
    followers.append(follower)
    writer = RegistryWriter(store)
    writes = [
        lambda: writer.set_alias("wine-classifier", "live", 5),
        lambda: writer.set_alias("wine-classifier", "live", 4),  # the same alias, moved
        lambda: writer.set_model_tag("churn-model", "team", "a"),
        lambda: writer.set_model_tag("churn-model", "team", "b"),  # a value replaced
        lambda: writer.update_version_description("churn-model", 1, "checked live"),
        lambda: writer.transition_stage("churn-model", 1, "Staging"),
        lambda: writer.create_registered_model("fresh"),  # file store: built at the root
    ]
    for number, write in enumerate(writes, 1):
        write()
        collector.wait_for(
            lambda n=number: sum(c.registry for c in collector.snapshot()) >= n,
            f"registry write {number} reported",
            timeout=4.0,
        )
    # Registry writes are not taken for changes to runs or experiments.
    assert not any(c.runs or c.experiments or c.metric_points for c in collector.snapshot())


# -- (4) the store disappears -----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["file", "sqlite"])
def test_store_gone_is_reported(tmp_path, followers, backend, mode):
    fixture = "mlflow-3.17.2-file" if backend == "file" else "mlflow-3.17.2-sqlite"
    path = store_path(copy_fixture(fixture, tmp_path))
    follower, collector = follow(open_store(path), mode)
    followers.append(follower)
    if backend == "file":
        shutil.rmtree(path)
    else:
        path.unlink()
    collector.wait_for(lambda: any(c.store_gone for c in collector.snapshot()), "store_gone")
    gone = [c for c in collector.snapshot() if c.store_gone]
    assert len(gone) == 1 and str(path) in " ".join(gone[0].notices)
    assert follower.running  # the app keeps running; so does the follower, quietly


# -- new experiments and runs, deleted experiments (file store) ---------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_new_experiment_and_run_then_experiment_deleted(tmp_path, followers, mode):
    root = store_path(copy_fixture("mlflow-3.17.2-file", tmp_path))
    follower, collector = follow(open_store(root), mode)
    followers.append(follower)
    now = int(time.time() * 1000)
    run = synth.RunSpec(
        run_id="ab" * 16,
        run_name="fresh",
        start_time=now,
        status="RUNNING",
        params={"lr": "0.1"},
        metrics={"loss": [(now, 0.75, 0), (now + 1, 0.5, 1)]},
    )
    exp = synth.ExperimentSpec("123456789", "live-experiment", now, runs=[run])
    folder = synth.write_experiment(root, exp)
    synth.write_run(folder, exp.experiment_id, synth.experiment_artifact_location(root, "1"), run)
    collector.wait_for(
        lambda: any("123456789" in c.experiments for c in collector.snapshot()), "the experiment"
    )
    collector.wait_for(lambda: run.run_id in collector.runs(), "the run")
    # The run appeared after the follower started: all of its points are new.
    collector.wait_for(lambda: len(collector.points(run.run_id, "loss")) >= 2, "its points")
    assert collector.points(run.run_id, "loss") == [
        Metric("loss", 0.75, now, 0),
        Metric("loss", 0.5, now + 1, 1),
    ]
    # MLflow's delete_experiment moves the folder into .trash.
    os.replace(folder, root / ".trash" / "123456789")
    collector.wait_for(
        lambda: any("123456789" in c.deleted_experiments for c in collector.snapshot()),
        "the deleted experiment",
    )
    assert run.run_id in collector.deleted_runs()


@pytest.mark.parametrize("mode", MODES)
def test_run_folder_before_its_meta_yaml(tmp_path, followers, mode):
    """MLflow makes the run folder first and writes meta.yaml after; a reader can be between."""
    root = store_path(copy_fixture("mlflow-3.17.2-file", tmp_path))
    follower, collector = follow(open_store(root), mode)
    followers.append(follower)
    now = int(time.time() * 1000)
    run = synth.RunSpec("ef" * 16, "late-meta", now, status="RUNNING")
    folder = root / "0" / run.run_id
    (folder / "metrics").mkdir(parents=True)
    (folder / "meta.yaml").write_text("")  # created, not yet written (MLflow writes in place)
    (folder / "metrics" / "acc").write_text(f"{now} 0.5 0\n")
    time.sleep(0.6)  # the follower looks, finds no readable meta.yaml, and must look again
    assert run.run_id not in collector.runs()
    meta = synth.run_meta(run, "0", f"{root.as_uri()}/0/{run.run_id}/artifacts")
    (folder / "meta.yaml").write_text(synth.dump_meta_yaml(meta))
    collector.wait_for(lambda: run.run_id in collector.runs(), "the run")
    collector.wait_for(lambda: collector.points(run.run_id, "acc"), "its point")
    assert collector.points(run.run_id, "acc") == [Metric("acc", 0.5, now, 0)]
    assert not [n for c in collector.snapshot() for n in c.notices], "no notice for a mid-write"


# -- changes between the reading on show and the start of following ----------------------------

EARLY_WRITER = """
import json, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
exp = c.create_experiment("early")
run = c.create_run("0", run_name="early-run")
c.log_metric(run.info.run_id, "loss", 0.5, step=1)
c.set_tag("3bd742fd206d42c2a271b1896415b0bb", "late", "x")  # a finished run
c.delete_run("57f3e52c4f524b79884ba816992c3de7")
c.delete_experiment("604850205048283032")  # moved into .trash, with its run
c.set_registered_model_tag("churn-model", "team", "z")
print(json.dumps([exp, run.info.run_id]))
"""


@pytest.mark.parametrize("mode", MODES)
def test_changes_between_reading_and_following_are_reported(tmp_path, followers, mode):
    """The app starts following a moment after its first screen read the store: what MLflow
    wrote in between comes in the first change set (it is in the follower's baseline, so
    nothing later could report it)."""
    root = store_path(copy_fixture("mlflow-3.17.2-file", tmp_path))
    time.sleep(0.2)  # the copy's file times well before the reading (SINCE_SLACK_NS)
    store = open_store(root)
    assert "early" not in {e.name for e in store.experiments()}  # the reading on show
    out = run_python(
        EARLY_WRITER.replace("sys.argv[1]", repr(root.as_uri())),
        env={"MLFLOW_ALLOW_FILE_STORE": "true"},
        cwd=tmp_path,
    )
    exp_id, run_id = json.loads(out.strip().splitlines()[-1])
    follower, collector = follow(store, mode, since_ns=store.opened_ns)
    followers.append(follower)

    collector.wait_for(lambda: exp_id in collector.union("experiments"), "the new experiment")
    assert {run_id, "3bd742fd206d42c2a271b1896415b0bb"} <= collector.union("runs")
    deleted = collector.union("deleted_runs")
    assert {"57f3e52c4f524b79884ba816992c3de7", "aa23dad779a148f48a8f8a38ed184413"} <= deleted
    assert "604850205048283032" in collector.union("deleted_experiments")
    assert any(c.registry for c in collector.snapshot())
    # Only what changed: an untouched experiment and run are not read again.
    assert "598164376716000412" not in collector.union("experiments")
    assert "5cc418ec992c449c9db5ee9ef75863c8" not in collector.union("runs")


EARLY_SQLITE_WRITER = """
import json, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])
exp = c.create_experiment("early")
run = c.create_run("0", run_name="early-run")
c.log_metric(run.info.run_id, "loss", 0.5, step=1)
c.log_metric("54a2a532bed34e4da110051fb1b4af83", "late", 1.0)  # a finished run's new point
c.set_tag("a2c3fe346e204fc1b98cb2fbdbe91a0c", "late", "x")
c.set_terminated("86af88866e434b17aa2d838a0750bafa")  # RUNNING at the reading: updated in place
c.delete_run("04df639fbf1443d2b6a08cd0aa04aad8")
c.rename_experiment("3", "renamed")
c.set_experiment_tag("1", "late", "y")
c.delete_experiment("4")
c.set_registered_model_tag("churn-model", "team", "z")
print(json.dumps([exp, run.info.run_id]))
"""


@pytest.mark.parametrize("mode", MODES)
def test_sqlite_changes_between_reading_and_following_are_reported(tmp_path, followers, mode):
    """As on a file store: what MLflow commits between the first read and the start of
    following comes in the first change set, though SQLite rows carry no time of change (the
    store's first read recorded the state), as runs and experiments to read again whole."""
    db = store_path(copy_fixture("mlflow-3.17.2-sqlite", tmp_path))
    store = open_store(db)
    assert "early" not in {e.name for e in store.experiments()}  # the reading on show
    out = run_python(EARLY_SQLITE_WRITER.replace("sys.argv[1]", repr(f"sqlite:///{db}")))
    exp_id, run_id = json.loads(out.strip().splitlines()[-1])
    follower, collector = follow(store, mode, since_ns=store.opened_ns)
    followers.append(follower)

    collector.wait_for(lambda: exp_id in collector.union("experiments"), "the new experiment")
    assert {
        run_id,
        "54a2a532bed34e4da110051fb1b4af83",
        "a2c3fe346e204fc1b98cb2fbdbe91a0c",
        "86af88866e434b17aa2d838a0750bafa",
    } <= collector.union("runs")
    assert "04df639fbf1443d2b6a08cd0aa04aad8" in collector.union("deleted_runs")
    assert {"3", "1"} <= collector.union("experiments")
    assert "4" in collector.union("deleted_experiments")
    assert any(c.registry for c in collector.snapshot())
    assert not collector.points(run_id, "loss"), "read again whole, not repeated as points"
    # Only what changed: an untouched experiment and run are not read again.
    assert "9" not in collector.union("experiments")
    assert "eaf5b0b950e84881ab7c3489db06b982" not in collector.union("runs")


REWRITTEN_TAG_WRITER = """
import sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
c.set_tag("b0b89fac28e346baaac72d012f626381", "sweep.index", "one")  # an existing key
"""


@pytest.mark.parametrize("mode", MODES)
def test_sqlite_finished_runs_tag_rewritten_before_following_is_reported(tmp_path, followers, mode):
    """`set_tag` on a key a finished run already has updates its row in place (no new rowid,
    no change to the run's row): following still reports the run, as its reading differs."""
    db = store_path(copy_fixture("mlflow-3.17.2-sqlite", tmp_path))
    store = open_store(db)
    run_id = "b0b89fac28e346baaac72d012f626381"
    run = {r.run_id: r for r in store.runs()}[run_id]  # the reading on show
    assert run.status == "FINISHED" and run.tags["sweep.index"] == "2"
    with closing(sqlite3.connect(db)) as conn:
        sql = "SELECT rowid FROM tags WHERE run_uuid = ? AND key = 'sweep.index'"
        (rowid,) = conn.execute(sql, (run_id,)).fetchone()
    run_python(REWRITTEN_TAG_WRITER.replace("sys.argv[1]", repr(f"sqlite:///{db}")))
    with closing(sqlite3.connect(db)) as conn:  # rewritten in place: the row keeps its rowid
        sql = "SELECT rowid, value FROM tags WHERE run_uuid = ? AND key = 'sweep.index'"
        assert conn.execute(sql, (run_id,)).fetchall() == [(rowid, "one")]
    follower, collector = follow(store, mode, since_ns=store.opened_ns)
    followers.append(follower)

    collector.wait_for(lambda: run_id in collector.union("runs"), "the run whose tag changed")
    assert "54a2a532bed34e4da110051fb1b4af83" not in collector.union("runs")


SHOWN_TAGS_WRITER = """
import sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
c.set_tag("b0b89fac28e346baaac72d012f626381", "sweep.index", "one")  # experiment 1
c.delete_tag("17a9d98b2e5b4db4afd0d7d158713c0d", "sweep.index")  # experiment 1
c.set_tag("a2c3fe346e204fc1b98cb2fbdbe91a0c", "mlflow.user", "toor")  # same length as "root"
c.set_tag("74cd2ba5d18c439bb0e43af5e3067a1a", "mlflow.user", "toor")  # shown nowhere
"""


@pytest.mark.parametrize("mode", MODES)
def test_sqlite_finished_runs_tag_rewritten_while_following_is_reported_where_shown(
    tmp_path, followers, mode
):
    """While following, MLflow rewrites finished runs' tags in place (`set_tag` on a key the
    run has: an UPDATE, no new row) and deletes one: the runs page's follower (the experiment's
    runs listed) and the run page's (its tags shown) each report the runs they show, and
    nothing they do not show (only what is shown is compared)."""
    db = store_path(copy_fixture("mlflow-3.17.2-sqlite", tmp_path))
    store = open_store(db)
    listed = {"b0b89fac28e346baaac72d012f626381", "17a9d98b2e5b4db4afd0d7d158713c0d"}
    alone, hidden = "a2c3fe346e204fc1b98cb2fbdbe91a0c", "74cd2ba5d18c439bb0e43af5e3067a1a"
    status = {r.run_id: r.status for r in store.runs()}  # the reading on show
    assert {status[r] for r in {*listed, alone, hidden}} == {"FINISHED"}
    collectors = []
    for shown in (Shown(runs_of=frozenset({"1"})), Shown(tags_of=frozenset({alone}))):
        follower = StoreFollower(store, poll_seconds=MODES[mode])
        followers.append(follower)
        follower.show(shown)
        collectors.append(Collector())
        follower.start(collectors[-1])
        assert follower.wait_ready(WAIT) and follower.mode == mode, follower.notice
    runs_page, run_page = collectors
    run_python(SHOWN_TAGS_WRITER.replace("sys.argv[1]", repr(f"sqlite:///{db}")))

    runs_page.wait_for(lambda: listed <= runs_page.runs(), "the listed runs whose tags changed")
    run_page.wait_for(lambda: alone in run_page.runs(), "the shown run whose tag changed")
    time.sleep(1.5)  # a later look (SHOWN_TAGS_SECONDS) must not report the others either
    assert runs_page.runs() == listed and run_page.runs() == {alone}
    assert hidden not in runs_page.runs() | run_page.runs()


@pytest.mark.parametrize("mode", MODES)
def test_sqlite_tag_rewritten_while_its_page_was_hidden_is_reported_when_shown_again(
    tmp_path, followers, mode
):
    """The runs page is hidden under a run's page while MLflow rewrites a tag of one of its
    runs in place: when the runs page is shown again, its runs are compared with what their
    reading returned, so the run is reported then (not recorded as if it had been seen)."""
    db = store_path(copy_fixture("mlflow-3.17.2-sqlite", tmp_path))
    store = open_store(db)
    store.runs()  # the runs page's reading
    follower = StoreFollower(store, poll_seconds=MODES[mode])
    followers.append(follower)
    follower.show(Shown(tags_of=frozenset({"a2c3fe346e204fc1b98cb2fbdbe91a0c"})))  # a run's page
    collector = Collector()
    follower.start(collector)
    assert follower.wait_ready(WAIT) and follower.mode == mode, follower.notice
    run_python(REWRITTEN_TAG_WRITER.replace("sys.argv[1]", repr(f"sqlite:///{db}")))
    assert "b0b89fac28e346baaac72d012f626381" not in collector.runs()  # not on show
    follower.show(Shown(runs_of=frozenset({"1"})))  # back on the runs page
    collector.wait_for(
        lambda: "b0b89fac28e346baaac72d012f626381" in collector.runs(), "the rewritten run"
    )
    assert collector.runs() == {"b0b89fac28e346baaac72d012f626381"}


# -- folders renamed into the store, as sync tools bring them --------------------------------------

ELSEWHERE_WRITER = """
import json, sys
from mlflow import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
exp = c.create_experiment("synced")
run = c.create_run(exp, run_name="synced-run")
c.log_metric(run.info.run_id, "loss", 0.5, step=1)
lone = c.create_run("0", run_name="synced-lone")
c.log_metric(lone.info.run_id, "loss", 0.25, step=2)
print(json.dumps([exp, run.info.run_id, lone.info.run_id]))
"""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("source", ["outside", "inside"])
def test_folders_renamed_into_the_store_are_reported(
    tmp_path, followers, monkeypatch, source, mode
):
    """An experiment folder and a run folder MLflow wrote in another store, renamed in (from
    outside the store: a created-folder event; from a staging folder inside it: a moved-folder
    event). The verify scan is put out of reach: only events (or the poll) can see them."""
    monkeypatch.setattr(watch, "VERIFY_SECONDS", 3600)
    root = store_path(copy_fixture("mlflow-3.17.2-file", tmp_path))
    other = (tmp_path / "elsewhere" if source == "outside" else root / ".staging") / "mlruns"
    out = run_python(
        ELSEWHERE_WRITER.replace("sys.argv[1]", repr(other.as_uri())),
        env={"MLFLOW_ALLOW_FILE_STORE": "true"},
        cwd=tmp_path,
    )
    exp_id, run_id, lone_id = json.loads(out.strip().splitlines()[-1])
    hour_ago = time.time() - 3600  # synced folders keep the times they were written at
    for folder, dirs, files in os.walk(other):
        for name in dirs + files:
            os.utime(os.path.join(folder, name), (hour_ago, hour_ago))
    follower, collector = follow(open_store(root), mode)
    followers.append(follower)
    os.rename(other / exp_id, root / exp_id)
    os.rename(other / "0" / lone_id, root / "0" / lone_id)
    collector.wait_for(
        lambda: any(exp_id in c.experiments for c in collector.snapshot()), "the experiment"
    )
    collector.wait_for(lambda: {run_id, lone_id} <= collector.runs(), "both runs")
    # Their folders are followed from now on: a point logged to each comes as one.
    for rid, exp in ((run_id, exp_id), (lone_id, "0")):
        with open(root / exp / rid / "metrics" / "loss", "a") as fh:
            fh.write("1700000000000 9.5 99\n")
    for rid in (run_id, lone_id):
        collector.wait_for(lambda r=rid: collector.points(r, "loss"), "a point in a moved-in run")
        assert collector.points(rid, "loss") == [Metric("loss", 9.5, 1700000000000, 99)]
    assert not collector.deleted_runs()
    assert follower.mode == mode, follower.notice


# -- falling back to polling --------------------------------------------------------------------


def test_watchdog_failing_to_start_falls_back_to_polling(tmp_path, followers, monkeypatch):
    import watchdog.observers

    class NoInotify:
        def __init__(self, *args, **kwargs):
            raise OSError(28, "inotify watch limit reached")

    monkeypatch.setattr(watchdog.observers, "Observer", NoInotify)
    root = store_path(copy_fixture("mlflow-3.17.2-file", tmp_path))
    run_id, key, path = first_metric_file(root)
    follower = StoreFollower(open_store(root))
    collector = Collector()
    follower.start(collector)
    followers.append(follower)
    assert follower.wait_ready(WAIT)
    assert follower.mode == "polling"
    assert "inotify watch limit reached" in follower.notice and "polling" in follower.notice
    with open(path, "a") as fh:
        fh.write("1700000000000 2.5 9\n")
    collector.wait_for(lambda: collector.points(run_id, key), "the point, by polling")
    assert collector.points(run_id, key) == [Metric(key, 2.5, 1700000000000, 9)]
    assert follower.notice in collector.snapshot()[0].notices


@pytest.mark.parametrize("backend", ["file", "sqlite"])
def test_events_that_never_arrive_are_noticed(tmp_path, followers, monkeypatch, backend):
    """As on NFS with a writer on another machine: the watcher starts, and stays silent."""
    import watchdog.observers

    class Deaf:
        def schedule(self, *args, **kwargs):
            pass

        def start(self):
            pass

        def stop(self):
            pass

        def join(self, timeout=None):
            pass

    monkeypatch.setattr(watchdog.observers, "Observer", Deaf)
    monkeypatch.setattr(watch, "VERIFY_SECONDS", 0.3)
    monkeypatch.setattr(file_followed, "EVENT_GRACE_NS", 300_000_000)
    monkeypatch.setattr(sqlite_follower, "EVENT_GRACE_NS", 300_000_000)
    if backend == "file":
        root = store_path(copy_fixture("mlflow-3.17.2-file", tmp_path))
        run = synth.RunSpec("cd" * 16, "live", int(time.time() * 1000), status="RUNNING")
        synth.write_run(root / "0", "0", synth.experiment_artifact_location(root, "0"), run)
        run_id, key, path = run.run_id, "loss", root / "0" / run.run_id / "metrics" / "loss"
        store = open_store(root)
    else:
        db = store_path(copy_fixture("mlflow-3.17.2-sqlite", tmp_path))
        store = open_store(db)
        run_id, key = store.runs()[0].run_id, "loss"
    follower, collector = follow(store, "events")
    followers.append(follower)
    if backend == "file":
        with open(path, "a") as fh:
            fh.write("1700000000000 2.5 9\n")
    else:
        import sqlite3

        with sqlite3.connect(db) as conn:
            conn.execute(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?, 2.5, 1700000000000, ?, 9, 0)",
                (key, run_id),
            )
    collector.wait_for(lambda: follower.mode == "polling", "the fall-back to polling")
    assert "raised no file event" in follower.notice
    collector.wait_for(lambda: collector.points(run_id, key), "the point")
    assert collector.points(run_id, key) == [Metric(key, 2.5, 1700000000000, 9)]
    assert any(follower.notice in c.notices for c in collector.snapshot())


def test_network_filesystems_are_recognised():
    mounts = (
        "/dev/sda1 / ext4 rw 0 0\n"
        "srv:/export /mnt/nfs nfs4 rw 0 0\n"
        "me@host:/ /home/me/remote\\040dir fuse.sshfs rw 0 0\n"
    )
    assert network_filesystem("/mnt/nfs/project/mlruns", mounts) == "nfs4"
    assert network_filesystem("/home/me/remote dir/mlruns", mounts) == "fuse.sshfs"
    assert network_filesystem("/mnt/nfsish/mlruns", mounts) is None
    assert network_filesystem("/home/me/mlruns", mounts) is None


def test_event_mode_scans_look_at_a_slice_of_the_runs_that_changed_lately(tmp_path, monkeypatch):
    """With events, the periodic scan only checks that they arrive: it looks at every RUNNING
    run but at a round-robin slice of the finished runs that changed lately, so that a store
    with thousands of those does not hold the events back for a second every few seconds.
    Polling still looks at all of them every time."""
    from mltui.store.file import follower as file_follower

    monkeypatch.setattr(file_follower, "HOT_RUNS_PER_VERIFY", 2)
    follower = open_store(store_path(copy_fixture("mlflow-3.17.2-file", tmp_path))).change_source()
    follower.baseline()
    later = time.monotonic() + 3600
    for run in follower.runs.values():
        run.hot_until = later  # as if each had just changed
    running = {r for r, run in follower.runs.items() if run.status in (None, *LIVE_STATUSES)}
    hot = set(follower.runs) - running
    assert len(hot) > 4
    scanned: list[str] = []
    monkeypatch.setattr(follower, "_scan_run", lambda run, out: scanned.append(run.run_id))
    seen: set[str] = set()
    for _ in range(math.ceil(len(hot) / 2)):
        scanned.clear()
        follower.scan(StoreChanges(), verify=True, sweep=False)
        assert running <= set(scanned)
        assert len(set(scanned) - running) <= 2
        seen |= set(scanned)
    assert seen == set(follower.runs)  # each in its turn
    scanned.clear()
    follower.scan(StoreChanges(), verify=False, sweep=False)
    assert set(scanned) == set(follower.runs)
