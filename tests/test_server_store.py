"""The tracking-server backend against a real `mlflow server` over a copy of a fixture database.

One server per test process (it takes 10-25 s to start: MLflow's imports): every test here
shares it. Parity is checked two ways: `mltui export http://...` equals `mltui export` of the
same database read directly, and the reading equals MLflow's own client through the server.
"""

from __future__ import annotations

import base64
import json
import math
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mltui.store import open_store
from mltui.store.server import ServerStore
from mltui.store.server.store import PAGES_IN_FLIGHT, POOL_SIZE
from mltui.tui.cli import main
from tests.conftest import STORES_DIR
from tests.mlflow_server import CountingProxy, mlflow_server

SOURCE = STORES_DIR / "mlflow-3.18.0-sqlite"
#: Where the fixture was written: its artifact URIs start here.
RECORDED_ROOT = "/tmp/mltui-fixture-build/mlflow-3.18.0-sqlite/mlruns"


@dataclass
class Server:
    url: str
    db: Path
    artifacts: Path


def proxied_copy(folder: Path) -> Path:
    """A copy of the fixture whose artifact URIs are the proxy's (mlflow-artifacts:/...), as a
    server started with --artifacts-destination records them."""
    shutil.copytree(SOURCE, folder)
    db = folder / "mlflow.db"
    with sqlite3.connect(db) as conn:
        for table, column in (
            ("runs", "artifact_uri"),
            ("experiments", "artifact_location"),
            ("logged_models", "artifact_location"),
        ):
            conn.execute(
                f"UPDATE {table} SET {column} = replace({column}, ?, 'mlflow-artifacts:')",
                (RECORDED_ROOT,),
            )
    conn.close()
    return db


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracking-server")
    db = proxied_copy(folder / "store")
    with mlflow_server(
        f"sqlite:///{db}", folder / "store" / "mlruns", folder / "server.log"
    ) as url:
        yield Server(url, db, folder / "store" / "mlruns")


@pytest.fixture
def store(server):
    opened = open_store(server.url)
    yield opened
    opened.close()


def export(capsys, *args: str) -> str:
    code = main(["export", *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--all", "--history"],
        ["--filter", "metrics.rmse < 1 and params.solver = 'saga'", "--order-by", "metrics.r2"],
        ["--logged-models"],
    ],
    ids=["default", "all-history", "filter-order", "logged-models"],
)
def test_export_over_the_server_equals_export_of_the_database(server, capsys, options):
    over_http = export(capsys, server.url, *options)
    direct = export(capsys, str(server.db), *options)
    assert over_http.splitlines() and over_http == direct


def test_open_store_and_environment_variable_open_a_server(server, monkeypatch):
    from mltui.store.locate import default_store_target

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    target = default_store_target()
    assert target == server.url
    store = open_store(target)
    assert isinstance(store, ServerStore) and store.kind == "server"
    assert store.location == server.url


def same_value(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def test_reading_equals_mlflow_client_field_by_field(server, store):
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    theirs_exps = {e.experiment_id: e for e in client.search_experiments(view_type=ViewType.ALL)}
    ours_exps = {e.experiment_id: e for e in store.experiments(include_deleted=True)}
    assert set(ours_exps) == set(theirs_exps)
    for exp_id, exp in ours_exps.items():
        theirs = theirs_exps[exp_id]
        assert (exp.name, exp.lifecycle_stage, exp.artifact_location, exp.tags) == (
            theirs.name,
            theirs.lifecycle_stage,
            theirs.artifact_location,
            theirs.tags,
        )
    ids = list(ours_exps)
    theirs_runs = {r.info.run_id: r for r in client.search_runs(ids, run_view_type=ViewType.ALL)}
    ours_runs = {r.run_id: r for r in store.runs(ids, include_deleted=True)}
    assert set(ours_runs) == set(theirs_runs) and ours_runs
    # Our histories fetched as charts fetch them (several at once, whole: not the server's
    # sampled bulk endpoint), each against MLflow's.
    pairs = [(run_id, key) for run_id, run in ours_runs.items() for key in run.metrics]
    series = dict(store.metric_series_many(pairs))
    assert set(series) == set(pairs) and pairs
    for run_id, run in ours_runs.items():
        theirs = theirs_runs[run_id]
        info = theirs.info
        assert (
            run.run_name, run.status, run.start_time, run.end_time, run.lifecycle_stage,
            run.artifact_uri, run.user_id, run.params, run.tags,
        ) == (
            info.run_name, info.status, info.start_time, info.end_time, info.lifecycle_stage,
            info.artifact_uri, info.user_id, theirs.data.params, theirs.data.tags,
        )  # fmt: skip
        assert set(run.metrics) == set(theirs.data.metrics)
        for key, metric in run.metrics.items():
            assert same_value(metric.value, theirs.data.metrics[key])
            ours = series[(run_id, key)]
            want = client.get_metric_history(run_id, key)
            assert list(zip(ours.steps, ours.timestamps, strict=True)) == [
                (m.step, m.timestamp) for m in want
            ]
            assert all(same_value(a, b.value) for a, b in zip(ours.values, want, strict=True))
        assert [d.dataset.digest for d in run.inputs or ()] == [
            d.dataset.digest for d in theirs.inputs.dataset_inputs
        ]
    models = store.registered_models()
    assert [m.name for m in models] == sorted(m.name for m in client.search_registered_models())
    for model in models:
        theirs = client.get_registered_model(model.name)
        assert (model.description, model.tags, model.aliases) == (
            theirs.description,
            theirs.tags,
            theirs.aliases,
        )
        versions = store.model_versions(model.name)
        want = sorted(
            client.search_model_versions(f"name='{model.name}'"), key=lambda v: -int(v.version)
        )
        assert [(v.version, v.current_stage, v.source, v.run_id, v.tags) for v in versions] == [
            (v.version, v.current_stage, v.source, v.run_id, v.tags) for v in want
        ]
        for version in versions:
            assert version.aliases == sorted(
                a for a, v in model.aliases.items() if v == version.version
            )
    logged = store.logged_models()
    theirs_logged = client.search_logged_models(experiment_ids=ids)
    assert {m.model_id: (m.name, m.params, m.tags) for m in logged} == {
        m.model_id: (m.name, m.params, m.tags) for m in theirs_logged
    }


def test_first_page_of_runs_arrives_as_a_batch_of_its_own(store):
    batches = list(store.iter_runs())
    assert sum(len(b) for b in batches) == len(store.runs())
    assert all(batches)


# -- a listing's later pages, several at once --------------------------------------------------
@pytest.fixture
def small_pages(monkeypatch):
    """A first page of 2 runs, then pages of 3: the fixture's runs take several."""
    from mltui.store.server import store as module

    monkeypatch.setattr(module, "RUN_PAGE_SIZES", (2, 3))


def page_offset(body: object) -> int | None:
    """The offset a runs/search body asks from, by MLflow's page token (None: no token)."""
    token = body.get("page_token") if isinstance(body, dict) else None
    return json.loads(base64.b64decode(token))["offset"] if token else None


def listed_ids(batches) -> list[str]:
    return [run.run_id for batch in batches for run in batch]


def mlflows_ids(server, ids: list[str], order_by: list[str] | None = None) -> list[str]:
    """The run ids MLflow's client lists, deleted runs included, in its order."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=server.url)
    runs = client.search_runs(
        ids, run_view_type=ViewType.ALL, max_results=50_000, order_by=order_by
    )
    return [run.info.run_id for run in runs]


def test_a_listings_later_pages_are_asked_for_at_once_and_list_what_mlflow_lists(
    server, small_pages
):
    """After the first page (2 runs), pages of 3 from offsets made here (MLflow's page token is
    an offset), PAGES_IN_FLIGHT at once: the page at 2 is held at the proxy until the one at 5
    has been asked for (one page at a time, it never would be). The runs are MLflow's, in its
    order, and in the order asked for."""
    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    ids = [e.experiment_id for e in store.experiments(include_deleted=True)]
    asked_at_5 = threading.Event()

    def hold(path, body):
        if page_offset(body) == 5:
            asked_at_5.set()
        return asked_at_5 if page_offset(body) == 2 else None

    proxy.hold = hold
    proxy.taken()
    listed: list[str] = []
    listing = threading.Thread(
        target=lambda: listed.extend(listed_ids(store.iter_runs(ids, include_deleted=True))),
        daemon=True,
    )
    try:
        listing.start()
        assert wait_for(asked_at_5.is_set)
        listing.join(120)
        assert not listing.is_alive()
        assert listed == mlflows_ids(server, ids) and len(listed) > 2 + 3 * PAGES_IN_FLIGHT
        # The first page, then a page from each offset, a few past the end already asked for.
        offsets = sorted(page_offset(body) or 0 for body in searches(proxy.taken()))
        assert offsets == [0, *range(2, 2 + 3 * (len(offsets) - 1), 3)]
        assert offsets[-1] < len(listed) + 3 * PAGES_IN_FLIGHT

        order_by = ["metrics.rmse DESC"]
        ordered = store.search_runs(ids, order_by=order_by, include_deleted=True)
        assert [r.run_id for r in ordered] == mlflows_ids(server, ids, order_by)
    finally:
        asked_at_5.set()
        store.close()
        proxy.close()


def searches(requests: list[tuple[str, object]]) -> list[object]:
    """The bodies of the runs/search among `requests`."""
    return [body for path, body in requests if path.endswith("/runs/search")]


def test_a_run_created_while_runs_are_listed_is_listed_once(server, small_pages):
    """A run created after the first page shifts every offset by one: the run that ended the
    first page comes again at the start of the next, and is dropped."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server.url)
    exp = client.create_experiment(f"shifted-{time.time_ns()}")
    made = [client.create_run(exp, start_time=1_000 + i).info.run_id for i in range(8)]
    newest_first = made[::-1]
    store = open_store(server.url)
    try:
        batches = store.iter_runs([exp])
        first = [r.run_id for r in next(batches)]
        assert first == newest_first[:2]
        client.create_run(exp, start_time=2_000)  # first now: the rest one place further on
        assert first + listed_ids(batches) == newest_first
    finally:
        store.close()
        client.delete_experiment(exp)


def wrap_tokens(data: bytes) -> bytes:
    """An answer whose next_page_token is wrapped: not MLflow's offset any more."""
    try:
        answer = json.loads(data)
    except ValueError:
        return data
    if not isinstance(answer, dict) or not answer.get("next_page_token"):
        return data
    answer["next_page_token"] = "opaque:" + answer["next_page_token"]
    return json.dumps(answer).encode()


def unwrap_tokens(body: bytes) -> bytes:
    """A request's wrapped page token as the server gave it."""
    sent = json.loads(body)
    token = sent.get("page_token") if isinstance(sent, dict) else None
    if not token or not token.startswith("opaque:"):
        return body
    sent["page_token"] = token.removeprefix("opaque:")
    return json.dumps(sent).encode()


def test_page_tokens_that_are_not_offsets_are_followed_one_page_at_a_time(server, small_pages):
    """Behind a proxy that wraps the server's page tokens (a server whose tokens say nothing to
    us), every page is asked for with the token the one before gave, and every run is listed."""
    proxy = CountingProxy(server.url)
    proxy.edit_answer = wrap_tokens
    proxy.edit_request = unwrap_tokens
    store = open_store(proxy.url)
    ids = [e.experiment_id for e in store.experiments(include_deleted=True)]
    proxy.taken()
    try:
        listed = listed_ids(store.iter_runs(ids, include_deleted=True))
        tokens = [body["page_token"] for body in searches(proxy.taken())]
        assert tokens[0] is None and len(tokens) > 2
        assert all(token.startswith("opaque:") for token in tokens[1:])
        assert listed == mlflows_ids(server, ids)
    finally:
        store.close()
        proxy.close()


def test_a_page_answered_500_is_asked_for_again_alone(server, small_pages):
    """The page at 5 answered HTTP 500 once (as an MLflow server without Flask-WTF may, to
    searches at once in one worker): asked for again, and every run is listed."""
    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    ids = [e.experiment_id for e in store.experiments(include_deleted=True)]
    failed = threading.Event()

    def fail(path, body) -> bool:
        if page_offset(body) != 5 or failed.is_set():
            return False
        failed.set()
        return True

    proxy.fail = fail
    proxy.taken()
    try:
        listed = listed_ids(store.iter_runs(ids, include_deleted=True))
        assert failed.is_set() and listed == mlflows_ids(server, ids)
        assert [page_offset(body) for body in searches(proxy.taken())].count(5) == 2
    finally:
        store.close()
        proxy.close()


def test_a_listing_stopped_with_pages_in_flight_returns_at_once_and_asks_no_more(
    server, small_pages
):
    """Closed after its second page while the next PAGES_IN_FLIGHT are held at the proxy, the
    listing ends at once (it waits for none of them), the counts no longer wait for it, and
    nothing more is asked for."""
    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    ids = [e.experiment_id for e in store.experiments(include_deleted=True)]
    release = threading.Event()
    proxy.hold = lambda path, body: release if (page_offset(body) or 0) > 2 else None
    proxy.taken()
    try:
        batches = store.iter_runs(ids, include_deleted=True)
        next(batches)
        next(batches)  # the page at 2: those at 5, 8 and 11 are asked for and held
        assert wait_for(lambda: len(searches(proxy.requests)) == 2 + PAGES_IN_FLIGHT)
        closing = threading.Thread(target=batches.close, daemon=True)
        closing.start()
        closing.join(60)
        assert not closing.is_alive()
        assert store._listings == 0
    finally:
        release.set()
        store.close()
        proxy.close()
    offsets = sorted(page_offset(body) or 0 for body in searches(proxy.taken()))
    assert offsets == [0, *range(2, 2 + 3 * (PAGES_IN_FLIGHT + 1), 3)]


def test_artifacts_are_listed_and_previewed_through_the_proxy(server, store):
    run = next(r for r in store.runs() if (server.artifacts / r.experiment_id / r.run_id).is_dir())
    folder = server.artifacts / run.experiment_id / run.run_id / "artifacts"
    root = store.artifact_root(run)
    assert store.can_browse_artifacts(root)
    entries = store.list_artifacts(root)
    assert {e.path for e in entries} == {p.name for p in folder.iterdir()}
    first_file = next(e for e in entries if not e.is_dir)
    text = store.read_text_preview(root, first_file.path, 10)
    assert text == (folder / first_file.path).read_text()[:10]
    for hostile in ("../../1", "a/../../x"):
        with pytest.raises(Exception, match="outside"):
            store.list_artifacts(root, hostile)
    # A logged model's folder too (what the run screen's models tab opens).
    model = next(m for m in store.logged_models() if m.source_run_id)
    model_root = store.logged_model_artifact_root(model)
    assert store.can_browse_artifacts(model_root)
    assert "MLmodel" in {e.path for e in store.list_artifacts(model_root)}
    remote = store.artifact_root_of("s3://bucket/1/abc/artifacts")
    assert not store.can_browse_artifacts(remote)
    assert "s3://bucket/1/abc/artifacts" in (remote.note or "")


def test_follower_reports_a_new_run_and_its_new_points(server, store):
    from mlflow import MlflowClient

    from mltui.store.server.follow import ServerFollower

    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment(f"followed-{time.time_ns()}")
    seen = []
    # What the app asks for: the store's own follower.
    follower = store.follower(poll_seconds=0.2)
    assert isinstance(follower, ServerFollower)
    follower.start(seen.append)
    try:
        assert follower.wait_ready(60)
        run = client.create_run(exp_id)
        run_id = run.info.run_id
        client.log_metric(run_id, "loss", 1.0, step=0)
        assert wait_for(lambda: any(run_id in c.runs for c in seen))
        client.log_metric(run_id, "loss", 0.5, step=1)
        client.log_metric(run_id, "loss", 0.25, step=2)

        def points() -> list:
            return [p.step for c in seen for p in c.metric_points.get((run_id, "loss"), [])]

        assert wait_for(lambda: 2 in points())
        assert points()[-2:] == [1, 2]
        client.delete_run(run_id)
        assert wait_for(lambda: any(run_id in c.deleted_runs for c in seen))
    finally:
        follower.stop()
        client.delete_experiment(exp_id)


def wait_for(check, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.mark.anyio
async def test_app_on_the_server_shows_experiments_and_a_run(server):
    from textual.widgets import DataTable

    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.run import RunScreen
    from tests.tui.helpers import screen_text, settle

    store = open_store(server.url)
    run = next(r for r in store.runs() if r.params)
    app = MltuiApp(store, watch=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#experiments-table", DataTable)
        shown = {table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)}
        assert shown == {e.experiment_id for e in store.experiments()}
        await app.push_screen(RunScreen(run.run_id))
        await settle(pilot)
        text = screen_text(app)
        assert run.run_name in text
        params = app.screen.query_one("#params-table", DataTable)
        assert params.row_count == len(run.params)
    store.close()


def test_traces_over_the_server_equal_the_database_read_directly(server, capsys):
    """A trace with nested spans, typed attributes, an event and assessments, logged through the
    server: its OpenTelemetry JSON reads as the database's stored spans do."""
    import mlflow
    from mlflow.entities import AssessmentSource, SpanEvent

    mlflow.set_tracking_uri(server.url)
    name = f"traced-{time.time_ns()}"
    mlflow.set_experiment(name)

    @mlflow.trace(span_type="LLM")
    def answer(question: str) -> dict:
        return {"text": question.upper(), "n": 3}

    with mlflow.start_span("root") as span:
        span.set_inputs({"q": "hi"})
        span.set_attribute("score", 0.5)
        span.add_event(SpanEvent("checked", attributes={"k": "v"}))
        answer("hi")
    mlflow.flush_trace_async_logging()
    trace_id = mlflow.get_last_active_trace_id()
    source = AssessmentSource(source_type="HUMAN", source_id="me")
    mlflow.log_feedback(trace_id=trace_id, name="quality", value=True, source=source)
    mlflow.log_expectation(trace_id=trace_id, name="expected", value={"a": [1, 2]})
    # The server may still be storing what it was sent (its own queue and jobs, slower on a
    # busy machine): read both ways until the two readings are of the same state.
    deadline = time.monotonic() + 60
    while True:
        over_http = export(capsys, server.url, "--traces", "--experiment", name)
        direct = export(capsys, str(server.db), "--traces", "--experiment", name)
        if over_http == direct or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert over_http == direct
    record = json.loads(over_http)
    assert record["trace_id"] == trace_id and len(record["spans"]) == 2
    assert {a["name"] for a in record["assessments"]} == {"quality", "expected"}


def test_registry_writes_over_rest_are_read_back_by_mlflow(server, store):
    from mlflow import MlflowClient

    from mltui.store.registry import RegistryWriter

    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    writer = RegistryWriter(store)
    assert writer.refusal() is None
    name = f"written-{time.time_ns()}"
    writer.apply(writer.plan_create_registered_model(name, description="d", tags={"a": "b"}))
    logged = next(m for m in store.logged_models() if m.source_run_id)
    plan = writer.plan_create_model_version(
        name, f"models:/{logged.model_id}", model_id=logged.model_id, tags={"t": "1"}
    )
    version = writer.apply(plan).version
    assert version == "1"
    writer.apply(writer.plan_set_alias(name, "champion", version))
    writer.apply(writer.plan_transition_stage(name, version, "Staging", False))
    writer.apply(writer.plan_update_version_description(name, version, "first"))
    writer.apply(writer.plan_set_model_tag(name, "team", "growth"))
    writer.apply(writer.plan_delete_model_tag(name, "a"))
    model = client.get_registered_model(name)
    assert (model.description, model.tags, model.aliases) == (
        "d",
        {"team": "growth"},
        {"champion": "1"},
    )
    mv = client.get_model_version(name, version)
    assert (mv.current_stage, mv.description, mv.tags, mv.run_id) == (
        "Staging",
        "first",
        {"t": "1"},
        logged.source_run_id,
    )
    # ...and mltui reads back what it wrote, as MLflow does.
    (ours,) = store.model_versions(name)
    assert (ours.current_stage, ours.description, ours.aliases) == (
        "Staging",
        "first",
        ["champion"],
    )


def test_a_finished_runs_long_history_is_read_from_the_server_once(server, tmp_path, monkeypatch):
    """Reopened, a finished run's chart costs one runs/get, not the server's history pages; a
    running run's history is always asked for."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric as MlflowMetric

    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path / "cache"))
    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment(f"long-{time.time_ns()}")
    finished, running = client.create_run(exp_id), client.create_run(exp_id)
    points = 9000  # over the cache's minimum
    for run in (finished, running):
        for start in range(0, points, 1000):
            batch = [MlflowMetric("loss", 1 / (i + 1), 1_700_000_000_000 + i, i)
                     for i in range(start, start + 1000)]  # fmt: skip
            client.log_batch(run.info.run_id, metrics=batch)
    client.set_terminated(finished.info.run_id)

    def read(run_id: str) -> tuple[int, list[float]]:
        store = open_store(server.url)
        try:
            before = store.client.traffic.requests
            series = store.metric_series(run_id, "loss")
            return store.client.traffic.requests - before, list(series.values)
        finally:
            store.close()

    first_requests, first = read(finished.info.run_id)
    again_requests, again = read(finished.info.run_id)
    assert len(first) == points and again == first
    assert first_requests > 1 and again_requests == 1  # runs/get alone
    assert read(running.info.run_id)[0] > 1
    assert read(running.info.run_id)[0] > 1


# -- live, looking only at what is shown ------------------------------------------------------
def runs_searched(requests: list[tuple[str, object]]) -> list[set[str]]:
    """The experiment ids of each runs/search among `requests`."""
    return [
        set(body.get("experiment_ids") or ())
        for path, body in requests
        if path.endswith("/runs/search") and isinstance(body, dict)
    ]


def looks_after(follower, count: int) -> bool:
    start = follower.looks
    return wait_for(lambda: follower.looks >= start + count)


def test_follower_polls_only_the_experiments_shown(server):
    """A hidden experiment's runs are never asked for; shown again, what it missed is found."""
    from mlflow import MlflowClient

    from mltui.store.follow import Shown
    from tests.mlflow_server import CountingProxy

    client = MlflowClient(tracking_uri=server.url)
    shown_exp = client.create_experiment(f"shown-{time.time_ns()}")
    hidden_exp = client.create_experiment(f"hidden-{time.time_ns()}")
    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    seen = []
    follower = store.follower(poll_seconds=0.1)
    follower.show(Shown(runs_of=frozenset({shown_exp})))
    follower.start(seen.append)
    try:
        assert follower.wait_ready(60)
        hidden_run = client.create_run(hidden_exp).info.run_id
        shown_run = client.create_run(shown_exp).info.run_id
        assert wait_for(lambda: any(shown_run in c.runs for c in seen))
        assert looks_after(follower, 2)
        asked = runs_searched(proxy.taken())
        assert asked and all(ids == {shown_exp} for ids in asked)
        assert not any(hidden_run in c.runs for c in seen)

        # A page with nothing live on show: no request at all.
        follower.show(Shown())
        assert looks_after(follower, 1)
        proxy.taken()
        assert looks_after(follower, 3)
        assert proxy.taken() == []

        # The hidden experiment shown: the run started meanwhile is reported.
        follower.show(Shown(runs_of=frozenset({hidden_exp})))
        assert wait_for(lambda: any(hidden_run in c.runs for c in seen))
    finally:
        follower.stop()
        store.close()
        proxy.close()
        for exp_id in (shown_exp, hidden_exp):
            client.delete_experiment(exp_id)


def full_listings(requests: list[tuple[str, object]]) -> int:
    """The runs/search among `requests` that list runs in full (no filter)."""
    return sum(
        path.endswith("/runs/search") and isinstance(body, dict) and body.get("filter") == ""
        for path, body in requests
    )


def test_full_listings_come_less_often_while_they_find_nothing_yet_catch_an_edited_tag(server):
    """A shown experiment's runs are listed in full (only that finds a finished run's tag set
    by MLflow) 120 s after being taken in, then twice as long after each listing that found
    nothing (up to 960 s); shown again, or after a listing that found a change, 120 s again.
    The follower's clock is driven and each look taken here: no waiting, no timing."""
    from mlflow import MlflowClient

    from mltui.store.follow import Shown
    from tests.mlflow_server import CountingProxy

    client = MlflowClient(tracking_uri=server.url)
    exp = client.create_experiment(f"listed-{time.time_ns()}")
    # The edited run is not the newest: the cheaper searches (running, started since the
    # newest) never return it, only a full listing does.
    older = client.create_run(exp, start_time=1_000).info.run_id
    client.set_terminated(older)
    client.set_terminated(client.create_run(exp, start_time=2_000).info.run_id)
    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    follower = store.follower()
    now = [0.0]
    follower.clock = lambda: now[0]
    shown = Shown(runs_of=frozenset({exp}))
    follower.show(shown)

    def look(seconds: float = 60.0):
        now[0] += seconds
        changes = follower._look()  # one look, here rather than on the follower's thread
        assert changes is not None
        return changes

    def listings_over(seconds: float) -> int:
        proxy.taken()
        for _ in range(int(seconds // 60)):
            look()
        return full_listings(proxy.taken())

    try:
        look(0)  # taken in at 0
        # Every 120 s before; now at 120, 360, 840 and 1800 (then every 960 s).
        assert listings_over(1920) == 4

        # Hidden, then shown again at 1980: listed at once (1980 - 1800 >= 120).
        follower.show(Shown())
        look(0)
        follower.show(shown)
        assert listings_over(60) == 1

        # That listing found nothing: the next is due 240 s later, at 2220, and finds the tag.
        client.set_tag(older, "note", "edited after the run finished")
        while older not in look().runs:
            assert now[0] < 2220
        assert now[0] == 2220
        # A listing that found a change: the next is 120 s later again.
        assert listings_over(60) == 0
        assert listings_over(60) == 1
    finally:
        store.close()
        proxy.close()
        client.delete_experiment(exp)


def test_a_chart_gets_the_new_points_of_its_metrics_alone(server):
    """Shown a chart of one running run's `loss`: runs/get of that run, and the history of
    `loss` alone when it moved; `acc` moving says the run changed, with no history read."""
    from mlflow import MlflowClient

    from mltui.store.follow import Shown
    from tests.mlflow_server import CountingProxy

    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment(f"charted-{time.time_ns()}")
    run_id = client.create_run(exp_id).info.run_id
    client.log_metric(run_id, "loss", 1.0, step=0)
    client.log_metric(run_id, "acc", 0.1, step=0)
    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    proxy.taken()  # the opening's own request
    seen = []
    follower = store.follower(poll_seconds=0.1)
    follower.show(Shown(runs=frozenset({run_id}), histories=frozenset({(run_id, "loss")})))
    follower.start(seen.append)
    try:
        assert follower.wait_ready(60)
        client.log_metric(run_id, "loss", 0.5, step=1)
        client.log_metric(run_id, "acc", 0.2, step=1)
        client.log_metric(run_id, "loss", 0.25, step=2)

        def points(key: str) -> list[int]:
            return [p.step for c in seen for p in c.metric_points.get((run_id, key), [])]

        assert wait_for(lambda: 2 in points("loss") and any(run_id in c.runs for c in seen))
        assert points("loss")[-2:] == [1, 2] and points("acc") == []
        asked = {
            path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1] for path, _ in proxy.taken()
        }
        assert asked == {"runs/get", "metrics/get-history"}
    finally:
        follower.stop()
        store.close()
        proxy.close()
        client.delete_experiment(exp_id)


@pytest.mark.anyio
async def test_a_run_page_on_top_costs_no_request_and_going_back_catches_up(server):
    """Experiments, then an experiment's runs, then a finished run's page: while the run page
    is on top the follower asks the server nothing; back on the runs, a run started meanwhile
    is listed."""
    from mlflow import MlflowClient

    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.run import RunScreen
    from mltui.tui.screens.runs import RunsScreen
    from tests.mlflow_server import CountingProxy
    from tests.tui.helpers import eventually, settle

    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment(f"pages-{time.time_ns()}")
    finished = client.create_run(exp_id).info.run_id
    client.log_metric(finished, "loss", 0.5)
    client.set_terminated(finished)
    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    app = MltuiApp(store, poll_seconds=0.1)

    async def looks(count: int) -> bool:
        follower = app.follower
        start = follower.looks
        return await eventually(pilot, lambda: follower.looks >= start + count, 60)

    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            assert await eventually(pilot, lambda: app.follower is not None, 60)
            app.open_runs([exp_id])
            await settle(pilot)
            runs_screen = app.screen
            assert isinstance(runs_screen, RunsScreen)
            assert await looks(2)
            assert {exp_id} in runs_searched(proxy.taken())
            app.open_run(finished)
            await settle(pilot)
            assert isinstance(app.screen, RunScreen)
            assert await looks(1)
            proxy.taken()
            assert await looks(3)
            assert proxy.taken() == []  # neither the runs nor the experiments are polled
            started = client.create_run(exp_id).info.run_id
            app.back()
            assert await eventually(pilot, lambda: started in runs_screen.runs, 60)
    finally:
        store.close()
        proxy.close()
        client.delete_experiment(exp_id)


@pytest.mark.anyio
async def test_a_running_runs_page_under_another_is_read_again_only_when_shown(server):
    """A running run's page reads its run again every few seconds; under another page, on a
    server, it reads nothing (no requests), and reads once when it is on top again."""
    from mlflow import MlflowClient

    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.run import RunScreen
    from tests.tui.helpers import eventually, settle

    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment(f"hidden-run-{time.time_ns()}")
    running = client.create_run(exp_id).info.run_id
    client.log_metric(running, "loss", 0.5)
    store = open_store(server.url)
    app = MltuiApp(store, poll_seconds=0.1)

    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            app.open_run(running)
            await settle(pilot)
            run_page = app.screen
            assert isinstance(run_page, RunScreen)
            assert await eventually(pilot, lambda: run_page.details is not None, 60)
            first = run_page.details
            assert await eventually(
                pilot, lambda: run_page.details is not first, 60
            )  # read again on top
            app.open_runs([exp_id])
            await settle(pilot)
            assert app.screen is not run_page
            assert await eventually(pilot, lambda: run_page._read_when_shown, 60)
            hidden = run_page.details
            follower = app.follower
            start = follower.looks
            assert await eventually(pilot, lambda: follower.looks >= start + 5, 60)
            await pilot.pause(0.5)  # five times the page's pause between readings
            assert run_page.details is hidden  # nothing read while under the runs page
            app.back()
            await settle(pilot)
            assert await eventually(
                pilot, lambda: run_page.details is not hidden, 60
            )  # read once shown
    finally:
        store.close()
        client.set_terminated(running)
        client.delete_experiment(exp_id)


@pytest.mark.anyio
async def test_the_registry_pages_follow_the_servers_registry(server):
    """A registry page on top is polled for the registry (it was not followed on a server):
    a model MLflow creates, a tag on it and a tag on an older version all show."""
    from mlflow import MlflowClient

    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.model_versions import ModelVersionsScreen
    from mltui.tui.screens.registry import RegisteredModelsScreen
    from tests.tui.helpers import eventually, settle

    client = MlflowClient(tracking_uri=server.url)
    name = f"followed-{time.time_ns()}"
    store = open_store(server.url)
    app = MltuiApp(store, poll_seconds=0.1)
    run_id = None
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            models = RegisteredModelsScreen()
            await app.push_screen(models)
            assert await eventually(pilot, lambda: bool(models.models), 60)
            # Before following has looked at the registry: a change between the page's reading
            # and the follower's first look is shown too.
            client.create_registered_model(name)
            assert await eventually(pilot, lambda: any(name in str(k) for k in models.models), 60)
            run_id = client.create_run("0").info.run_id
            for _ in range(2):
                client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
            versions = ModelVersionsScreen(name)
            await app.push_screen(versions)
            assert await eventually(pilot, lambda: len(versions.versions) == 2, 60)
            client.set_model_version_tag(name, "1", "checked", "yes")  # not the latest
            assert await eventually(
                pilot, lambda: versions.versions["1"].tags.get("checked") == "yes", 60
            )
    finally:
        store.close()
        client.delete_registered_model(name)
        if run_id is not None:
            client.delete_run(run_id)


@pytest.mark.anyio
@pytest.mark.parametrize("held", ["first", "again"])
async def test_a_registry_change_heard_while_the_page_reads_is_shown(server, held):
    """The follower reports a change while a reading of the versions page, taken before the
    change, is under way: what the page shows at the end has the change. The page dropped a
    change heard during its first reading, and a reading that finished after a newer one
    replaced it: either way it kept the older reading for good (as CI's whole suite, under
    load, caught)."""
    from mlflow import MlflowClient

    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.model_versions import ModelVersionsScreen
    from tests.tui.helpers import eventually, settle

    client = MlflowClient(tracking_uri=server.url)
    name = f"heard-{time.time_ns()}"
    client.create_registered_model(name)
    run_id = client.create_run("0").info.run_id
    client.create_model_version(name, f"runs:/{run_id}/model", run_id=run_id)
    proxy = CountingProxy(server.url)
    armed, holding, gate = threading.Event(), threading.Event(), threading.Event()

    def hold(path: str, body: object) -> threading.Event | None:
        # A reading of the page asks for the model after its versions (the follower never
        # does): held once, until the follower has heard the tag.
        if armed.is_set() and path.endswith("/registered-models/get") and not holding.is_set():
            holding.set()
            return gate
        return None

    proxy.hold = hold
    store = open_store(proxy.url)
    app = MltuiApp(store, poll_seconds=0.1)
    dispatched: list[ModelVersionsScreen.Loaded] = []

    def record(message: object) -> None:
        if isinstance(message, ModelVersionsScreen.Loaded):
            dispatched.append(message)

    def tagged() -> bool:
        return "1" in versions.versions and versions.versions["1"].tags.get("checked") == "yes"

    try:
        async with app.run_test(size=(120, 36), message_hook=record) as pilot:
            await settle(pilot)
            versions = ModelVersionsScreen(name)
            if held == "first":
                armed.set()
            await app.push_screen(versions)
            if held == "again":
                assert await eventually(pilot, lambda: versions.reading is not None, 60)
                armed.set()
                versions.action_reload()
            assert await eventually(pilot, holding.is_set, 60)
            client.set_model_version_tag(name, "1", "checked", "yes")
            # The reading begun when the follower reported the tag shows it...
            assert await eventually(pilot, tagged, 60)
            before = len(dispatched)
            gate.set()
            # ...and the held one, ending after it, does not replace it.
            assert await eventually(pilot, lambda: len(dispatched) > before, 60)
            await pilot.pause()
            assert tagged()
    finally:
        gate.set()
        store.close()
        proxy.close()
        client.delete_registered_model(name)
        client.delete_run(run_id)


# -- live traces ---------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_a_trace_logged_to_the_server_appears_in_the_traces_list(server):
    """MLflow's client logs a trace to the server while the experiment's traces are listed:
    the follower's traces search finds it and the list reads it (only that experiment's traces
    are searched); the open trace is read again when it changes."""
    import mlflow
    from mlflow import MlflowClient

    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.traces import TraceScreen, TracesScreen
    from tests.mlflow_server import CountingProxy
    from tests.tui.helpers import eventually, settle

    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment(f"live-traces-{time.time_ns()}")
    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    app = MltuiApp(store, poll_seconds=0.1)
    try:
        async with app.run_test(size=(120, 36)) as pilot:

            async def until(check) -> bool:
                return await eventually(pilot, check, 90)

            await settle(pilot)
            assert await until(lambda: app.follower is not None)
            app.open_traces([exp_id])
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, TracesScreen) and screen.traces == []
            follower = app.follower
            start = follower.looks
            assert await until(lambda: follower.looks >= start + 2)

            mlflow.set_tracking_uri(server.url)
            mlflow.set_experiment(experiment_id=exp_id)
            with mlflow.start_span("live") as span:
                span.set_inputs({"q": "hi"})
            mlflow.flush_trace_async_logging()
            trace_id = mlflow.get_last_active_trace_id()
            assert await until(lambda: trace_id in {t.trace_id for t in screen.traces})
            searched = [
                body.get("locations")
                for path, body in proxy.taken()
                if path.endswith("/traces/search") and isinstance(body, dict)
            ]
            assert searched and all(
                [loc["mlflow_experiment"]["experiment_id"] for loc in locations] == [exp_id]
                for locations in searched
            )

            # The open trace is read again when it changes (here: a tag set on it).
            app.open_trace(trace_id)
            await settle(pilot)
            opened = app.screen
            assert isinstance(opened, TraceScreen) and opened.trace is not None
            client.set_trace_tag(trace_id, "reviewed", "yes")
            assert await until(
                lambda: opened.trace is not None and opened.trace.info.tags.get("reviewed") == "yes"
            )
    finally:
        store.close()
        proxy.close()
        client.delete_experiment(exp_id)


# -- the experiments list's run counts ---------------------------------------------------------
def test_run_counts_come_one_experiment_at_a_time_and_equal_mlflows(server, store):
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    from mltui.store.base import Store

    stream = list(store.experiment_activity_stream(include_deleted=True, deleted_runs=False))
    every = {e.experiment_id for e in store.experiments(include_deleted=True)}
    for counted, (activity, counting) in enumerate(stream, 1):
        assert len(activity) == counted and set(activity) | counting == every
    final, counting = stream[-1]
    assert counting == set()
    # The same as counting every run listed at once (what a local store does).
    listed = Store.experiment_activity(store, include_deleted=True, deleted_runs=False)
    assert {k: v for k, v in final.items() if v[0]} == listed
    client = MlflowClient(tracking_uri=server.url)
    for exp_id in every:
        runs = client.search_runs([exp_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=50000)
        assert final[exp_id][0] == len(runs)


def test_run_counts_wait_while_runs_are_listed(server):
    """The experiments list's counts (each a listing of one experiment's runs: the REST API has
    no count) ask nothing while the runs page lists runs, so the server's time goes to the rows
    wanted on screen; once the listing is over they come, and agree with it. (The listing is
    held at the proxy; the check that no count is asked meanwhile looks for 3 s: without the
    wait they are asked at once.)"""
    import threading

    from tests.mlflow_server import CountingProxy

    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    ids = [e.experiment_id for e in store.experiments()]
    release = threading.Event()
    proxy.hold = lambda path, body: (
        release if isinstance(body, dict) and body.get("experiment_ids") == ids else None
    )
    proxy.taken()
    out: dict[str, list] = {}
    listing = threading.Thread(target=lambda: out.update(runs=store.runs(ids)), daemon=True)
    counting = threading.Thread(
        target=lambda: out.update(
            counts=list(store.experiment_activity_stream(deleted_runs=False))
        ),
        daemon=True,
    )
    try:
        listing.start()
        assert wait_for(lambda: runs_searched(proxy.requests) == [set(ids)])  # held
        counting.start()
        assert not wait_for(lambda: len(runs_searched(proxy.requests)) > 1, seconds=3)
        # Counts waiting (more experiments than the shared pool has threads) hold up no other
        # request: a run page's reading through the shared pool is answered meanwhile.
        assert len(ids) > POOL_SIZE
        db = sqlite3.connect(SOURCE / "mlflow.db")
        run_id = db.execute("SELECT run_uuid FROM runs LIMIT 1").fetchone()[0]
        db.close()
        reading = store.executor().submit(store.run, run_id)
        assert reading.result(timeout=60).run_id == run_id
        assert not release.is_set() and listing.is_alive()
        release.set()
        listing.join(120)
        counting.join(120)
        asked = runs_searched(proxy.taken())
        assert asked[0] == set(ids) and len(asked) > len(ids)  # the listing, then each count
        final, pending = out["counts"][-1]
        assert pending == set()
        by_experiment = {i: sum(r.experiment_id == i for r in out["runs"]) for i in ids}
        assert {i: count for i, (count, _) in final.items()} == by_experiment
    finally:
        release.set()
        store.close()
        proxy.close()


@pytest.mark.anyio
async def test_the_experiments_list_shows_before_its_counts_and_says_what_is_coming(
    server, monkeypatch
):
    """One experiment's runs are held at the proxy: the list is on screen with the others'
    counts, that one's count is "…" and the status says a count is coming; then it comes. A
    change meanwhile does not restart the counting (it might never end while runs keep
    starting): the list is read again once it is over."""
    import threading

    from textual.widgets import DataTable

    from mltui.store.follow import StoreChanges
    from mltui.tui.app import MltuiApp
    from mltui.tui.screens import experiments
    from mltui.tui.widgets.breadcrumbs import Breadcrumbs
    from tests.mlflow_server import CountingProxy
    from tests.tui.helpers import settle

    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    counts = {i: activity[0] for i, activity in counted_at_once(store).items()}
    held_id = max(counts, key=lambda i: counts[i])
    gate = threading.Event()
    proxy.hold = lambda path, body: (
        gate
        if path.endswith("/runs/search") and isinstance(body, dict)
        and body.get("experiment_ids") == [held_id]
        else None
    )  # fmt: skip
    app = MltuiApp(store, watch=False)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            screen = app.screen

            def cell(exp_id: str) -> str:
                table = screen.query_one(DataTable)
                return str(table.get_cell(exp_id, "runs")) if exp_id in table.rows else ""

            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not all(
                cell(i) == str(n) for i, n in counts.items() if i != held_id
            ):
                await pilot.pause(0.1)
            assert cell(held_id) == "…"
            assert "run counts of 1 experiment to come" in screen.query_one(Breadcrumbs).status
            monkeypatch.setattr(experiments, "RELOAD_SECONDS", 0.01)
            proxy.taken()
            screen.store_changed(StoreChanges(runs={"a-new-run"}))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not screen._again:
                await pilot.pause(0.05)
            assert screen._again and proxy.taken() == []  # not read again yet
            gate.set()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (
                not screen._loading and not screen._again and screen._reload_timer is None
            ):
                await pilot.pause(0.1)
            await settle(pilot)
            assert cell(held_id) == str(counts[held_id])
            assert "to come" not in screen.query_one(Breadcrumbs).status
            asked = [path for path, _ in proxy.taken()]
            assert asked.count("/api/2.0/mlflow/experiments/search") == 1  # read again once
    finally:
        gate.set()
        store.close()
        proxy.close()


def counted_at_once(store):
    """Every shown experiment's activity, counted at once as a local store does."""
    from mltui.store.base import Store

    activity = Store.experiment_activity(store, include_deleted=True, deleted_runs=False)
    return {e.experiment_id: activity.get(e.experiment_id, (0, None)) for e in store.experiments()}


# -- the MLmodel page over a server ---------------------------------------------------------------
def test_a_logged_models_mlmodel_is_read_through_the_proxy_alone(server):
    """Only the MLmodel text crosses the wire (one request), and it reads as the same file read
    on disk; a root the server does not proxy is named and never asked for."""
    from mltui.store.mlmodel import MLmodelError, read_mlmodel, read_stored_mlmodel
    from tests.mlflow_server import CountingProxy

    proxy = CountingProxy(server.url)
    store = open_store(proxy.url)
    try:
        model = next(m for m in store.logged_models() if m.source_run_id)
        root = store.logged_model_artifact_root(model)
        proxy.taken()
        info = read_stored_mlmodel(store, root)
        asked = [path for path, _ in proxy.taken()]
        assert len(asked) == 1 and asked[0].endswith(f"/{root.proxy_path}/MLmodel")
        on_disk = read_mlmodel(server.artifacts / root.proxy_path)
        assert info.path is None and info.raw == on_disk.raw
        assert [f.name for f in info.flavors] == [f.name for f in on_disk.flavors]
        assert info.signature == on_disk.signature
        assert (info.run_id, info.model_id) == (on_disk.run_id, on_disk.model_id)
        assert info.input_example is None and info.requirements is None  # not fetched

        remote = store.artifact_root_of("s3://bucket/1/models/m-1/artifacts")
        with pytest.raises(MLmodelError, match="s3://bucket/1/models/m-1/artifacts"):
            read_stored_mlmodel(store, remote)
        with pytest.raises(MLmodelError, match="MLmodel"):
            read_stored_mlmodel(store, root, "no-such-folder")
        assert [p for p, _ in proxy.taken()] == [
            asked[0].replace("/MLmodel", "/no-such-folder/MLmodel")
        ]
    finally:
        store.close()
        proxy.close()


@pytest.mark.anyio
async def test_the_mlmodel_page_opens_from_a_version_and_a_runs_models_tab_on_the_server(server):
    """`m` on a registered version, and Enter on a run's logged model, open the MLmodel page
    through the artifact proxy (they had no local folder, so the key was off on a server)."""
    from mltui.store.run_models import RunModels, run_models
    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.mlmodel import MLmodelScreen
    from mltui.tui.screens.model_versions import ModelVersionsScreen
    from mltui.tui.widgets.run_tabs.models import ModelsTab
    from tests.tui.helpers import eventually, settle

    store = open_store(server.url)
    name = "wine-classifier"
    mv = store.model_versions(name)[0]
    app = MltuiApp(store, watch=False)

    async def mlmodel_page() -> MLmodelScreen:
        assert await eventually(pilot, lambda: isinstance(app.screen, MLmodelScreen), 60)
        screen = app.screen
        assert await eventually(pilot, lambda: screen.info is not None, 60)
        return screen

    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            versions = ModelVersionsScreen(name)
            await app.push_screen(versions)
            assert await eventually(pilot, lambda: versions.reading is not None, 60)
            await settle(pilot)
            assert versions.current_version() is not None
            assert versions.check_action("open_mlmodel", ()) is True
            await pilot.press("m")
            page = await mlmodel_page()
            assert page.info.flavors
            assert page.run is not None and page.run.run_id == mv.run_id
            app.back()
            await settle(pilot)
            run_id = versions.current_version().run_id
            app.open_run(run_id)
            await settle(pilot)
            run_page = app.screen
            assert await eventually(pilot, lambda: run_page.details is not None, 60)
            models: RunModels = run_models(store, run_page.details.run)
            logged = next(m for m in models.models if m.root is not None)
            run_page.query_one(ModelsTab).post_message(ModelsTab.Open(logged))
            page = await mlmodel_page()
            assert page.info.flavors
    finally:
        store.close()


@pytest.mark.anyio
async def test_the_mlmodel_page_opens_from_a_logged_model_on_the_server(server):
    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.logged_models import LoggedModelScreen
    from mltui.tui.screens.mlmodel import MLmodelScreen
    from tests.tui.helpers import screen_text, settle

    store = open_store(server.url)
    model = next(m for m in store.logged_models() if m.source_run_id)
    root = store.logged_model_artifact_root(model)
    app = MltuiApp(store, watch=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await app.push_screen(LoggedModelScreen(model))
        await settle(pilot)
        app.screen.action_mlmodel()
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MLmodelScreen) and screen.info is not None
        text = screen_text(app)
        for flavor in screen.info.flavors:
            assert flavor.name in text
        assert model.model_id in text
        assert screen.run is not None and screen.run.run_id == model.source_run_id
        assert screen._where() == root.recorded
    store.close()
