"""mltui.store.trace_search against MLflow 3.18.0's own search_traces, on the trace fixtures
MLflow wrote (both backends): the same traces for every filter we accept, and a FilterError
(one sentence) for the filters MLflow rejects."""

from __future__ import annotations

import os
import shutil

import pytest

from mltui.store import open_store
from mltui.store.errors import FilterError
from mltui.store.trace_search import parse_trace_filter
from tests.conftest import FIXTURES_DIR, store_path

mlflow = pytest.importorskip("mlflow")

from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

TRACE_FIXTURES = [FIXTURES_DIR / "traces" / f"mlflow-3.18.0-{b}" for b in ("file", "sqlite")]

#: Filters both backends of MLflow 3.18 answer; each selects something on one fixture at least.
FILTERS = [
    "attributes.status = 'ERROR'",
    "trace.status != 'OK'",
    "status IN ('ERROR', 'IN_PROGRESS')",
    "status NOT IN ('ERROR')",
    "attributes.execution_time_ms > 50",
    "execution_time <= 2",
    "execution_time_ms = 70.0",
    "attributes.timestamp_ms > 1796563770950",
    "attributes.timestamp > 1.5",
    "name = 'failing-pipeline'",
    "attributes.name = 'answer-question'",
    "name != 'answer-question'",
    "name LIKE 'fail%'",
    "name ILIKE 'ANSWER%'",
    "tags.env = 'prod'",
    "tags.env IS NULL",
    "tags.env IS NOT NULL",
    "tags.`mlflow.traceName` = 'failing-pipeline'",
    "tags.reviewed LIKE 'y_s'",
    "tags.env = 'prod' and execution_time_ms < 5",
    "status = 'error'",
    "request_id = 'tr-none'",
    "run_id = 'no-such-run'",
]
#: Filters MLflow 3.18 rejects on both backends.
REJECTED = [
    "state = 'OK'",
    "attributes.state = 'OK'",
    "foo = 'x'",
    "status > 1",
    "execution_time_ms LIKE '7%'",
    "tags.env IN ('prod')",
    "status = 'OK' OR status = 'ERROR'",
    "params.x = 'y'",
    "text LIKE '%wine%'",
    "timestamp > 1.5",
]


@pytest.fixture(scope="module", params=TRACE_FIXTURES, ids=lambda p: p.name)
def stores(request, tmp_path_factory):
    """(our store, MLflow's client, experiment id) on a copy of one trace fixture."""
    copy = tmp_path_factory.mktemp("traces") / request.param.name
    shutil.copytree(request.param, copy)
    path = store_path(copy)
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    uri = f"sqlite:///{path}" if path.suffix == ".db" else path.as_uri()
    store = open_store(path)
    exp_id = store.experiment_by_name_or_id("genai-traces").experiment_id
    yield store, MlflowClient(tracking_uri=uri), exp_id
    store.close()


def mlflow_ids(client: MlflowClient, exp_id: str, filter_string: str) -> set[str]:
    found = client.search_traces(
        locations=[exp_id], filter_string=filter_string, include_spans=False, max_results=1000
    )
    return {t.info.trace_id for t in found}


@pytest.mark.parametrize("filter_string", FILTERS)
def test_filter_selects_what_mlflow_search_traces_selects(stores, filter_string):
    store, client, exp_id = stores
    matches = parse_trace_filter(filter_string)
    ours = {t.trace_id for t in store.traces([exp_id]) if matches(t)}
    assert ours == mlflow_ids(client, exp_id, filter_string)


def test_the_filters_select_something(stores):
    """The parity above is not of empty answers only."""
    store, _, exp_id = stores
    traces = store.traces([exp_id])
    selecting = [f for f in FILTERS if any(parse_trace_filter(f)(t) for t in traces)]
    assert len(selecting) >= 15


@pytest.mark.parametrize("filter_string", REJECTED)
def test_what_mlflow_rejects_is_one_sentence(stores, filter_string):
    _, client, exp_id = stores
    with pytest.raises(MlflowException):
        mlflow_ids(client, exp_id, filter_string)
    with pytest.raises(FilterError) as error:
        parse_trace_filter(filter_string)
    assert "\n" not in str(error.value) and filter_string in str(error.value)


@pytest.mark.parametrize(
    "filter_string",
    ["span.name = 'retrieve'", "end_time_ms > 0", "name RLIKE '^ans'", "name IN ('manual-root')"],
)
def test_what_only_mlflows_sql_store_answers_is_refused(filter_string):
    """MLflow's file store cannot answer these (an error or a crash), its SQL store can: they
    would mean different things on the two backends, so neither gets them."""
    with pytest.raises(FilterError):
        parse_trace_filter(filter_string)
