"""New traces appear live: MLflow 3.18's client logs a trace (then a tag and an assessment)
into copies of the trace fixtures while followers run, in both modes, on both backends."""

from __future__ import annotations

import json
import shutil

from mltui.store import open_store
from tests.conftest import FIXTURES_DIR, store_path
from tests.test_watch import MODES, follow, run_python

TRACE_FIXTURES = {b: FIXTURES_DIR / "traces" / f"mlflow-3.18.0-{b}" for b in ("file", "sqlite")}

#: Logs one trace into each (tracking URI, experiment id) of argv[1], then tags and assesses it.
TRACE_WRITER = """
import json, os, sys
os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false"
import mlflow

@mlflow.trace(name="live-trace")
def double(x):
    return 2 * x

out = []
for uri, experiment_id in json.loads(sys.argv[1]):
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(experiment_id=experiment_id)
    double(21)
    trace_id = mlflow.get_last_active_trace_id()
    mlflow.set_trace_tag(trace_id, "live", "yes")
    mlflow.log_feedback(trace_id=trace_id, name="good", value=True)
    out.append(trace_id)
print(json.dumps(out))
"""


def write_traces(targets: list[tuple[str, str]]) -> list[str]:
    """Trace ids MLflow logged, one per (tracking URI, experiment id), in one process."""
    out = run_python(
        TRACE_WRITER.replace("sys.argv[1]", repr(json.dumps(targets))),
        env={"MLFLOW_ALLOW_FILE_STORE": "true"},
    )
    return json.loads(out.strip().splitlines()[-1])


def trace_store(backend: str, tmp_path) -> tuple[str, str, str]:
    """(path to open, tracking URI, experiment id) of a copy of the backend's trace fixture."""
    fixture = TRACE_FIXTURES[backend]
    copy = tmp_path / fixture.name
    shutil.copytree(fixture, copy)
    path = store_path(copy)
    uri = f"sqlite:///{path}" if backend == "sqlite" else path.as_uri()
    exp_id = json.loads((fixture / "expected_traces.json").read_text())["experiment_id"]
    return str(path), uri, exp_id


def test_mlflow_trace_is_reported_as_its_experiments_traces_changed(tmp_path):
    followers, watched, targets = [], [], []
    try:
        for backend in TRACE_FIXTURES:
            path, uri, exp_id = trace_store(backend, tmp_path)
            store = open_store(path)
            for mode in MODES:
                follower, collector = follow(store, mode)
                followers.append(follower)
                watched.append((backend, mode, collector, store, exp_id))
            targets.append((uri, exp_id))
        trace_ids = write_traces(targets)
        for backend, mode, collector, _, exp_id in watched:
            collector.wait_for(
                lambda c=collector, e=exp_id: e in c.union("traces"), f"{backend} {mode}"
            )
            assert collector.union("traces") == {exp_id}, (backend, mode)
        for backend, _, _, store, exp_id in watched[::2]:
            listed = {t.trace_id for t in store.traces([exp_id])}
            assert set(trace_ids) & listed, backend
    finally:
        for follower in followers:
            follower.stop()


def test_traces_logged_before_following_began_are_caught_up(tmp_path):
    """Given since_ns, the first change set names the experiment a trace was logged into
    between reading the store and following it."""
    opened = [(open_store(path), uri, exp_id) for path, uri, exp_id in
              (trace_store(backend, tmp_path) for backend in TRACE_FIXTURES)]  # fmt: skip
    write_traces([(uri, exp_id) for _, uri, exp_id in opened])
    for store, _, exp_id in opened:
        follower, collector = follow(store, "events", since_ns=store.opened_ns)
        try:
            collector.wait_for(lambda c=collector, e=exp_id: e in c.union("traces"), "catch-up")
        finally:
            follower.stop()
