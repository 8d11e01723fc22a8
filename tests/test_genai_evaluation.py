"""A `mlflow.genai.evaluate` run read from stores MLflow 3.18.0 wrote, compared with MLflow's own
reading (tests/fixtures/genai/*/expected.json, `genai_evaluation`: search_traces(run_id=...) with
each trace's assessments, and the run's metrics; made by make_genai_fixtures.py)."""

from __future__ import annotations

import shutil

import pytest

from mltui.store import open_store
from mltui.store.genai_evaluation import genai_evaluation, is_genai_evaluation, verdict
from tests.conftest import store_path
from tests.test_genai import GENAI_FIXTURES, GENAI_IDS, expected_of, run_named


def assessment_record(a) -> dict:
    return {
        "name": a.name,
        "kind": a.kind,
        "value": a.value,
        "source_type": a.source_type,
        "source_id": a.source_id,
        "rationale": a.rationale,
        "error": a.error,
    }


@pytest.mark.parametrize("fixture", GENAI_FIXTURES, ids=GENAI_IDS)
def test_genai_evaluation_equals_mlflow_search_traces_by_run(fixture):
    expected = expected_of(fixture)
    theirs = expected["genai_evaluation"]
    store = open_store(store_path(fixture))
    run = run_named(store, expected["experiment_id"], "genai-evaluation")
    assert run.run_id == theirs["run_id"] and is_genai_evaluation(run)
    found = genai_evaluation(store, run)
    # MLflow orders by timestamp; rows scored in threads may share a millisecond.
    mine = sorted(found.traces, key=lambda t: t.info.trace_id)
    their_traces = sorted(theirs["traces"], key=lambda t: t["trace_id"])
    assert [t.info.trace_id for t in mine] == [t["trace_id"] for t in their_traces]
    for trace, their in zip(mine, their_traces, strict=True):
        info = trace.info
        assert (info.state, info.request_preview, info.response_preview) == (
            their["state"],
            their["request_preview"],
            their["response_preview"],
        )
        records = sorted((assessment_record(a) for a in info.assessments), key=lambda r: r["name"])
        assert records == their["assessments"]
        feedback = [r for r in their["assessments"] if r["kind"] == "feedback"]
        assert {n: assessment_record(a) for n, a in trace.feedback.items()} == {
            r["name"]: r for r in feedback
        }
    assert found.scorers == ["answer_length", "exact_match", "no_brackets", "politeness"]
    flat = {f"{s}/{agg}": v for s, aggs in found.aggregates.items() for agg, v in aggs.items()}
    assert flat == theirs["metrics"]
    # The scorer that raised on one row: an error feedback there, no value.
    errors = [t.feedback["no_brackets"].error for t in mine if t.feedback["no_brackets"].error]
    assert errors == ["brackets in the answer"]


@pytest.mark.parametrize("fixture", GENAI_FIXTURES, ids=GENAI_IDS)
def test_other_runs_are_not_genai_evaluations_and_link_no_traces(fixture):
    expected = expected_of(fixture)
    store = open_store(store_path(fixture))
    for name in ("evaluation", "train-with-system-metrics"):
        run = run_named(store, expected["experiment_id"], name)
        assert not is_genai_evaluation(run)
        assert genai_evaluation(store, run).traces == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("yes", True),
        ("No", False),
        ("YES", True),
        (1.0, None),
        (0, None),
        ("maybe", None),
        (None, None),
        ({"a": 1}, None),
    ],
)
def test_verdict_from_the_value_as_mlflow_casts_it(value, expected):
    assert verdict(value) is expected


def test_a_trace_linked_to_the_run_only_by_an_association_is_evaluated(tmp_path):
    """MLflow's SQL store finds a run's traces by `mlflow.sourceRun` OR an entity_associations
    row (genai.evaluate over traces logged before it writes only the row): with one trace's
    metadata link removed, MLflow's search_traces(run_id) still returns it, and so do we."""
    import sqlite3
    import subprocess
    import sys

    fixture = next(f for f in GENAI_FIXTURES if f.name.endswith("sqlite"))
    expected = expected_of(fixture)
    folder = tmp_path / "store"
    shutil.copytree(fixture, folder)
    run_id = expected["genai_evaluation"]["run_id"]
    with sqlite3.connect(folder / "mlflow.db") as conn:
        (trace_id,) = conn.execute(
            "SELECT request_id FROM trace_request_metadata WHERE key = 'mlflow.sourceRun'"
            " AND value = ? ORDER BY request_id LIMIT 1",
            [run_id],
        ).fetchone()
        conn.execute(
            "DELETE FROM trace_request_metadata WHERE request_id = ? AND key = 'mlflow.sourceRun'",
            [trace_id],
        )
    conn.close()
    script = (
        "import sys, mlflow\n"
        "mlflow.set_tracking_uri(sys.argv[1])\n"
        "traces = mlflow.MlflowClient().search_traces(locations=[sys.argv[2]], run_id=sys.argv[3])\n"
        "print(sorted(t.info.trace_id for t in traces))\n"
    )
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-c", script, uri, expected["experiment_id"], run_id],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    theirs = eval(done.stdout.strip().splitlines()[-1])  # a printed list of strings
    assert trace_id in theirs
    store = open_store(folder)
    run = run_named(store, expected["experiment_id"], "genai-evaluation")
    mine = sorted(t.info.trace_id for t in genai_evaluation(store, run).traces)
    assert mine == theirs
