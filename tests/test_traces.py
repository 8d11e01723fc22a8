"""MLflow 3 traces read from stores MLflow 3.18.0 wrote, compared with MLflow's own reading
(tests/fixtures/traces/*/expected_traces.json, made by make_trace_fixtures.py)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from mltui.store import open_store
from mltui.tui.cli import main
from tests.conftest import FIXTURES_DIR, store_path

TRACE_FIXTURES = sorted(p for p in (FIXTURES_DIR / "traces").glob("mlflow-*"))
TRACE_IDS = [p.name for p in TRACE_FIXTURES]


def expected_of(fixture: Path) -> dict:
    return json.loads((fixture / "expected_traces.json").read_text(encoding="utf-8"))


def by_name(assessments: list[dict]) -> list[dict]:
    """MLflow's file store lists assessments in directory order: compare them as a set."""
    return sorted(assessments, key=lambda a: a["name"])


def test_both_backends_have_fixtures():
    assert {p.name.rsplit("-", 1)[1] for p in TRACE_FIXTURES} == {"file", "sqlite"}


@pytest.mark.parametrize("fixture", TRACE_FIXTURES, ids=TRACE_IDS)
def test_export_equals_mlflow_get_trace(fixture, tmp_path, capsys):
    out = tmp_path / "traces.jsonl"
    assert main(["export", str(store_path(fixture)), "--traces", "-o", str(out)]) == 0
    assert capsys.readouterr().err == ""
    ours = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    expected = expected_of(fixture)["traces"]
    assert [t["trace_id"] for t in ours] == [t["trace_id"] for t in expected]
    for mine, theirs in zip(ours, expected, strict=True):
        assert set(mine) == set(theirs)
        for key in theirs:
            if key == "spans":
                assert len(mine["spans"]) == len(theirs["spans"])
                for span, their_span in zip(mine["spans"], theirs["spans"], strict=True):
                    assert span == their_span, (mine["trace_id"], span["name"])
            elif key == "assessments":
                assert by_name(mine[key]) == by_name(theirs[key])
            else:
                assert mine[key] == theirs[key], (mine["trace_id"], key)


@pytest.mark.parametrize("fixture", TRACE_FIXTURES, ids=TRACE_IDS)
def test_trace_list_equals_mlflow_search_traces(fixture):
    expected = expected_of(fixture)
    store = open_store(store_path(fixture))
    infos = store.traces([expected["experiment_id"]])
    ours = [
        {
            "trace_id": t.trace_id,
            "request_time": t.request_time,
            "state": t.state,
            "execution_duration": t.execution_duration,
            "request_preview": t.request_preview,
            "response_preview": t.response_preview,
            "token_usage": t.token_usage,
            "tags": t.tags,
            "assessments_count": t.assessments_count,
        }
        for t in infos
    ]
    assert ours == expected["search_traces"]
    assert [t.name for t in infos] == [
        "answer-question",
        "answer-question",
        "answer-question",
        "failing-pipeline",
        "manual-root",
    ]
    assert store.warnings.messages == []


@pytest.mark.parametrize("fixture", TRACE_FIXTURES, ids=TRACE_IDS)
def test_the_span_that_raised_is_found(fixture):
    store = open_store(store_path(fixture))
    failing = store.traces([expected_of(fixture)["experiment_id"]])[3]
    trace = store.trace(failing.trace_id)
    assert trace.info.state == "ERROR"
    raised = [s for s in trace.spans if s.status == "ERROR"]
    assert [s.name for s in raised] == ["failing-pipeline", "lookup_price"]
    tool = raised[1]
    assert tool.span_type == "TOOL"
    assert tool.status_message == "ValueError: no price for 'unobtainium'"
    assert tool.events[0]["name"] == "exception"
    assert tool.events[0]["attributes"]["exception.type"] == "ValueError"
    root = raised[0]
    assert root.parent_id is None and tool.parent_id == root.span_id


@pytest.mark.parametrize("fixture", TRACE_FIXTURES, ids=TRACE_IDS)
def test_unknown_or_hostile_trace_id_is_none(fixture):
    store = open_store(store_path(fixture))
    assert store.trace("tr-" + "0" * 32) is None
    assert store.trace("../../etc") is None
    assert store.traces(["no-such-experiment"]) == []


def _tree(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if not p.is_symlink()
    }


@pytest.mark.parametrize("fixture", TRACE_FIXTURES, ids=TRACE_IDS)
def test_reading_traces_creates_nothing(fixture, tmp_path):
    copy = tmp_path / fixture.name
    shutil.copytree(fixture, copy)
    before = _tree(copy)
    store = open_store(store_path(copy))
    for info in store.traces([expected_of(copy)["experiment_id"]]):
        store.trace(info.trace_id)
    store.close()
    assert _tree(copy) == before


def test_malformed_spans_file_is_one_warning_and_keeps_the_trace(tmp_path):
    copy = tmp_path / "file"
    shutil.copytree(FIXTURES_DIR / "traces" / "mlflow-3.18.0-file", copy)
    spans_file = next(copy.glob("mlruns/*/traces/*/artifacts/traces.json"))
    trace_id = spans_file.parent.parent.name
    spans_file.write_text('{"spans": [', encoding="utf-8")
    bad_assessment = next(copy.glob("mlruns/*/traces/*/assessments/*.yaml"), None)
    if bad_assessment is not None:
        bad_assessment.write_text("- not\n- a mapping\n", encoding="utf-8")
    store = open_store(copy / "mlruns")
    trace = store.trace(trace_id)
    assert trace is not None and trace.spans == []
    assert any("not a spans file" in m for m in store.warnings.messages)
    assert all("\n" not in m for m in store.warnings.messages)
    assert len(store.traces([expected_of(copy)["experiment_id"]])) == 5


def test_malformed_span_row_is_left_out_with_a_warning(tmp_path):
    copy = tmp_path / "sqlite"
    shutil.copytree(FIXTURES_DIR / "traces" / "mlflow-3.18.0-sqlite", copy)
    conn = sqlite3.connect(copy / "mlflow.db")
    with conn:
        trace_id, span_id = conn.execute("SELECT trace_id, span_id FROM spans LIMIT 1").fetchone()
        conn.execute("UPDATE spans SET content = '{oops' WHERE span_id = ?", (span_id,))
    conn.close()
    store = open_store(copy / "mlflow.db")
    trace = store.trace(trace_id)
    assert span_id not in {s.span_id for s in trace.spans} and trace.spans
    assert any(span_id in m and "not JSON" in m for m in store.warnings.messages)


def test_traces_export_refuses_run_only_options(capsys):
    fixture = TRACE_FIXTURES[0]
    assert main(["export", str(store_path(fixture)), "--traces", "--format", "csv"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--traces" in err


def test_stores_without_traces_export_nothing(capsys):
    fixture = FIXTURES_DIR / "stores" / "mlflow-2.22.5-sqlite"
    assert main(["export", str(store_path(fixture)), "--traces"]) == 0
    assert capsys.readouterr().out == ""


def test_nan_in_a_span_is_exported_as_in_the_runs_export(tmp_path, capsys):
    copy = tmp_path / "file"
    shutil.copytree(FIXTURES_DIR / "traces" / "mlflow-3.18.0-file", copy)
    spans_file = next(copy.glob("mlruns/*/traces/*/artifacts/traces.json"))
    doc = json.loads(spans_file.read_text(encoding="utf-8"))
    # What MLflow writes for a traced function returning NaN or [inf] (json.dumps allows NaN).
    doc["spans"][0]["attributes"]["mlflow.spanOutputs"] = "NaN"
    doc["spans"][0]["attributes"]["scores"] = "[Infinity, -Infinity, 1.5]"
    spans_file.write_text(json.dumps(doc), encoding="utf-8")
    out = tmp_path / "traces.jsonl"
    assert main(["export", str(copy / "mlruns"), "--traces", "-o", str(out)]) == 0
    by_id = {t["trace_id"]: t for t in map(json.loads, out.read_text().splitlines())}
    span = by_id[spans_file.parent.parent.name]["spans"][0]
    assert span["outputs"] == "NaN"
    assert span["attributes"]["scores"] == ["Infinity", "-Infinity", 1.5]


def test_trace_info_is_read_without_its_location_block_only_when_that_is_safe():
    from mltui.store import yamlfast
    from mltui.store.traces import without_location

    path = next((FIXTURES_DIR / "traces").glob("mlflow-3.18.0-file/mlruns/*/traces/*/*.yaml"))
    data = path.read_bytes()
    whole = yaml.safe_load(data)
    trimmed = without_location(data)
    assert trimmed != data and b"trace_location" not in trimmed
    assert yamlfast.loads(trimmed) == {k: v for k, v in whole.items() if k != "trace_location"}
    # Not the last key, or a line after it not indented: the file is parsed whole.
    moved = b"a: 1\ntrace_location:\n  type: X\n" + data.replace(b"trace_location:", b"zz:")
    assert without_location(moved) == moved
    unindented = data + b"zzz: 1\n"
    assert without_location(unindented) == unindented
