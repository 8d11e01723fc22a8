"""A tracking server on PostgreSQL holding the 10,000-run sweep: mltui against MlflowClient.

    /work/venvs/pkg/bin/python tests/bench/bench_server_pg.py [--runs 10000] [--repeat 3]

1. Starts PostgreSQL (tests/postgres_server.py), lets MLflow make its schema, and fills it with
   COPY straight from make_large_store.py's seeded specs (the sweep, and `long-histories` with
   spikes): no file store, no migration. MlflowClient on the database then checks the run count
   and one run's params and latest metrics.
2. Starts `mlflow server --backend-store-uri postgresql+psycopg://...` with --workers worker
   processes (MLflow's default, 4, unless given; until December 2026 this ran one worker) on
   127.0.0.1 at a free port and waits for /health.
3. Measures, in this one run: ServerStore's first rows, full listing and the 10 x 100,000-point
   chart (series_updates: the first curve drawn, a sample; every curve drawn; every curve
   whole), each best of --repeat with requests and bytes received, against
   MlflowClient.search_runs (pages of 50,000) and get_metric_history x10 on the same server;
   then PostgresStore against MlflowClient on the database itself (bench_postgres.py). The
   chart must keep every spike (each series' maximum is its largest spike).
4. Where the time goes: one 100,000-point history and one page of every run taken apart (the
   server's own store call in this process, the requests, our JSON parsing, our conversion);
   with --profile, MLflow's handlers under cProfile.

With --listing-rounds N, only the full listing instead (no long histories): N rounds, each
taking ours (pages after the first several at once, as iter_runs reads them; one at a time, as
before; while the experiments list counts) and MlflowClient's in turn (the order alternating),
with the requests, bytes and the server's time per request (time to the answer's headers:
MLflow's handler answers whole; pages at once overlap); then N more rounds with --busy
busy-loop processes on the same cores.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_postgres import measure_direct, schema_database, sqlalchemy_uri  # noqa: E402
from bench_read import MLFLOW_PAGE  # noqa: E402
from bench_server import mark, traffic_since  # noqa: E402
from make_large_store import (  # noqa: E402
    LONG_METRICS,
    SPIKE_STEPS,
    long_experiment,
    spike_value,
    sweep_experiments,
)

from mltui.store.synth import ExperimentSpec, RunSpec  # noqa: E402
from tests.mlflow_server import mlflow_server  # noqa: E402
from tests.postgres_server import PostgresServer, find_bin_dir  # noqa: E402

#: Columns written per table, in COPY order (the others keep MLflow's defaults).
COLUMNS = {
    "experiments": ("experiment_id", "name", "artifact_location", "lifecycle_stage",
                    "creation_time", "last_update_time"),
    "experiment_tags": ("key", "value", "experiment_id"),
    "runs": ("run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id",
             "status", "start_time", "end_time", "deleted_time", "source_version",
             "lifecycle_stage", "artifact_uri", "experiment_id"),
    "params": ("key", "value", "run_uuid"),
    "tags": ("key", "value", "run_uuid"),
    "metrics": ("key", "value", "timestamp", "run_uuid", "step", "is_nan"),
    "latest_metrics": ("key", "value", "timestamp", "step", "is_nan", "run_uuid"),
}  # fmt: skip
ARTIFACT_ROOT = "mlflow-artifacts:/bench"
CHART_METRIC = LONG_METRICS[0]
BULK_INTERVAL = "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval"
#: The most points per run the bulk-interval endpoint returns (MAX_RESULTS_PER_RUN).
BULK_POINTS = 2500
PROFILE_LINES = 25


# -- 1. filling PostgreSQL ---------------------------------------------------------------------
def experiment_rows(exp: ExperimentSpec, exp_id: int) -> dict[str, list[tuple]]:
    return {
        "experiments": [
            (exp_id, exp.name, f"{ARTIFACT_ROOT}/{exp_id}", exp.lifecycle_stage,
             exp.creation_time, exp.last_update_time or exp.creation_time)
        ],
        "experiment_tags": [(k, v, exp_id) for k, v in exp.tags.items()],
    }  # fmt: skip


def run_rows(run: RunSpec, exp_id: int) -> dict[str, list[tuple]]:
    """The rows MLflow's SqlAlchemyStore holds for `run`; latest_metrics as it keeps them
    (the point of largest (step, timestamp, value))."""
    rid = run.run_id
    latest = {
        key: max(points, key=lambda p: (p[2], p[0], p[1])) for key, points in run.metrics.items()
    }
    return {
        "runs": [
            (rid, run.run_name, "LOCAL", "", "", run.user_id, run.status, run.start_time,
             run.end_time, run.deleted_time, "", run.lifecycle_stage,
             f"{ARTIFACT_ROOT}/{exp_id}/{rid}/artifacts", exp_id)
        ],
        "params": [(k, v, rid) for k, v in run.params.items()],
        "tags": [(k, v, rid) for k, v in run.tags.items()],
        "metrics": [
            (key, value, ts, rid, step, False)
            for key, points in run.metrics.items()
            for ts, value, step in points
        ],
        "latest_metrics": [(key, v, ts, step, False, rid) for key, (ts, v, step) in latest.items()],
    }  # fmt: skip


def copy_rows(conn, rows: dict[str, list[tuple]]) -> None:
    for table in COLUMNS:  # parents first: the foreign keys hold after each COPY
        if not rows.get(table):
            continue
        with conn.cursor().copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
            if table == "metrics":
                # COPY's text format made here: 3x faster than write_row for millions of points
                # (keys and run ids hold no tab, newline or backslash; repr keeps every bit).
                for start in range(0, len(rows[table]), 100_000):
                    chunk = rows[table][start : start + 100_000]
                    copy.write(
                        "".join(f"{k}\t{v!r}\t{t}\t{r}\t{s}\tf\n" for k, v, t, r, s, _ in chunk)
                    )
            else:
                for row in rows[table]:
                    copy.write_row(row)


def merge(into: dict[str, list[tuple]], rows: dict[str, list[tuple]]) -> None:
    for table, more in rows.items():
        into.setdefault(table, []).extend(more)


def fill(server: PostgresServer, runs: int, seed: int, long: bool = True) -> tuple[str, dict]:
    """A database with MLflow's schema holding the sweep and the spiked long histories, written
    with COPY one experiment at a time (the long runs one run at a time). Returns its URI and
    what MlflowClient must read back."""
    import psycopg

    uri = schema_database(server, "bench")
    experiments = [*sweep_experiments(runs, seed)]
    if long:
        experiments.append(long_experiment(seed, spikes=True))
    expected = {"active": 0, "sample": None, "long": []}
    with psycopg.connect(uri) as conn:
        # MLflow made experiment 0 (Default); a file store's 18-digit ids do not fit
        # PostgreSQL's INTEGER, so the experiments are numbered from 1.
        for exp_id, (exp, exp_runs) in enumerate(experiments, start=1):
            rows = experiment_rows(exp, exp_id)
            for run in exp_runs:
                merge(rows, run_rows(run, exp_id))
                expected["active"] += run.lifecycle_stage == "active"
                if expected["sample"] is None:
                    expected["sample"] = run
                if exp.name == "long-histories":
                    expected["long"].append(run.run_id)
                    copy_rows(conn, rows)  # 300,000 points a run: not all kept at once
                    rows = {}
            copy_rows(conn, rows)
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
            "(SELECT max(experiment_id) FROM experiments))"
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return uri, expected


def check_with_mlflow(uri: str, expected: dict) -> None:
    """MLflow's own reading of the filled database: run count, one run's params and metrics."""
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=sqlalchemy_uri(uri))
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    count = len(client.search_runs(ids, max_results=MLFLOW_PAGE))
    assert count == expected["active"], (count, expected["active"])
    spec: RunSpec = expected["sample"]
    run = client.get_run(spec.run_id)
    assert run.data.params == spec.params, run.data.params
    latest = {k: max(p, key=lambda p: (p[2], p[0], p[1]))[1] for k, p in spec.metrics.items()}
    assert run.data.metrics == latest, (run.data.metrics, latest)
    assert run.data.tags == spec.tags
    history = client.get_metric_history(spec.run_id, "loss")
    assert [(m.timestamp, m.value, m.step) for m in history] == spec.metrics["loss"]
    print(f"MlflowClient on the database: {count} active runs; run {spec.run_id[:8]} agrees")


# -- 2. the tracking server --------------------------------------------------------------------
# -- 3. measuring ------------------------------------------------------------------------------
class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    def add(self, line: str, seconds: float, note: str = "") -> float:
        self.rows.append((line, seconds, note))
        print(f"{line:<52} {seconds:7.3f} s  {note}", flush=True)
        return seconds


def measure_ours(url: str, repeat: int, table: Table) -> dict:
    from mltui.store.server import ServerStore

    def listing():
        store = ServerStore(url)
        ids = [e.experiment_id for e in store.experiments()]
        before, started = mark(store), time.perf_counter()
        batches = store.iter_runs(ids)
        first = next(batches)
        first_at, first_traffic = time.perf_counter() - started, traffic_since(store, before)
        total = len(first) + sum(len(b) for b in batches)
        all_at, all_traffic = time.perf_counter() - started, traffic_since(store, before)
        store.close()
        return (first_at, len(first), first_traffic), (all_at, total, all_traffic)

    listing()  # untimed: the server's first search compiles its queries, warms its caches
    tries = [listing() for _ in range(repeat)]
    first = min(tries, key=lambda t: t[0][0])[0]
    full = min(tries, key=lambda t: t[1][0])[1]
    out = {"first": first[0], "all": full[0], "count": full[1]}
    table.add(f"ServerStore: first {first[1]} rows", first[0], first[2])
    table.add(f"ServerStore: all {full[1]} runs", full[0], full[2])
    return out


def long_pairs(url: str) -> list[tuple[str, str]]:
    from mltui.store.server import ServerStore

    store = ServerStore(url)
    exp = store.experiment_by_name_or_id("long-histories")
    runs = store.runs([exp.experiment_id])
    store.close()
    return sorted((r.run_id, CHART_METRIC) for r in runs)


def expected_max(run_index: int) -> float:
    return max(spike_value(run_index, s) for s in range(len(SPIKE_STEPS)))


def check_spikes(maxima: dict[str, float], long_ids: list[str]) -> str:
    """Each long run's series reaches its largest spike (run r of the spec is long-r)."""
    wanted = {rid: expected_max(r) for r, rid in enumerate(long_ids)}
    kept = sum(maxima.get(rid) == value for rid, value in wanted.items())
    return f"spikes kept in {kept}/{len(wanted)} series"


def measure_chart(
    url: str, pairs, long_ids: list[str], repeat: int, table: Table, caches: Path
) -> dict:
    """The first open (each try with an empty series cache): the first curve drawn (a sample),
    every curve drawn, and every curve whole; then the chart reopened."""
    from mltui.store.server import ServerStore

    def chart(cache: Path) -> dict:
        os.environ["MLTUI_CACHE_DIR"] = str(cache)
        store = ServerStore(url)
        before, started = mark(store), time.perf_counter()
        marks: dict[str, tuple[float, str]] = {}
        shown: dict = {}
        whole: dict = {}
        for update in store.series_updates(pairs):
            if update.series is None:
                continue
            shown[update.pair] = update
            if update.complete:
                whole[update.pair] = update.series
            now = time.perf_counter() - started
            if "first" not in marks:
                marks["first"] = (now, traffic_since(store, before))
            if "drawn" not in marks and len(shown) == len(pairs):
                sampled = sum(not u.complete for u in shown.values())
                maxima = {rid: max(u.series.values) for (rid, _), u in shown.items()}
                note = f"{sampled} sampled; {check_spikes(maxima, long_ids)}"
                marks["drawn"] = (now, f"{traffic_since(store, before)}; {note}")
        seconds, traffic = time.perf_counter() - started, traffic_since(store, before)
        store.close()
        maxima = {rid: max(s.values) for (rid, _), s in whole.items()}
        points = sum(len(s) for s in whole.values())
        note = f"{points} points, {traffic}; {check_spikes(maxima, long_ids)}"
        return {**marks, "whole": (seconds, note)}

    tries = [chart(caches / f"try-{i}") for i in range(repeat)]
    best = {name: min(t[name] for t in tries) for name in ("first", "drawn", "whole")}
    n = len(pairs)
    table.add("ServerStore: chart, first curve drawn (a sample)", *best["first"])
    table.add(f"ServerStore: chart, all {n} curves drawn", *best["drawn"])
    table.add(f"ServerStore: chart, all {n} curves whole", *best["whole"])
    again = chart(caches / "try-0")["whole"]
    table.add("ServerStore: the same chart reopened (series cache)", *again)
    return {name: seconds for name, (seconds, _) in best.items()}


def measure_mlflow(url: str, pairs, long_ids: list[str], table: Table) -> dict:
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=url)
    ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY)]
    started = time.perf_counter()
    page = client.search_runs(ids, max_results=100)
    first = table.add(f"MlflowClient: first {len(page)} rows", time.perf_counter() - started)
    started, count, token = time.perf_counter(), 0, None
    while True:
        page = client.search_runs(ids, max_results=MLFLOW_PAGE, page_token=token)
        count += len(page)
        token = page.token
        if not token:
            break
    full = table.add(f"MlflowClient: all {count} runs", time.perf_counter() - started)
    started, maxima, points = time.perf_counter(), {}, 0
    for run_id, key in pairs:
        history = client.get_metric_history(run_id, key)
        points += len(history)
        maxima[run_id] = max(m.value for m in history)
    chart = table.add(
        f"MlflowClient: get_metric_history x{len(pairs)}",
        time.perf_counter() - started,
        f"{points} points; {check_spikes(maxima, long_ids)}",
    )
    return {"first": first, "all": full, "chart": chart, "count": count, "experiment_ids": ids}


def measure_sampled(url: str, pairs, long_ids: list[str], table: Table) -> None:
    """The server's sampled bulk endpoint (what MLflow's web UI charts from), for comparison:
    one request for the 10 runs; it keeps evenly spaced steps, not each bucket's extremes."""
    from mltui.store.server import ServerStore

    store = ServerStore(url)
    params = {"run_ids": [rid for rid, _ in pairs], "metric_key": CHART_METRIC}
    before, started = mark(store), time.perf_counter()
    metrics = store.client.get_json(BULK_INTERVAL, {**params, "max_results": BULK_POINTS})
    seconds, traffic = time.perf_counter() - started, traffic_since(store, before)
    maxima: dict[str, float] = {}
    for m in metrics.get("metrics", []):
        maxima[m["run_id"]] = max(maxima.get(m["run_id"], float("-inf")), m["value"])
    note = f"{len(metrics.get('metrics', []))} points, {traffic}; {check_spikes(maxima, long_ids)}"
    table.add(f"server's sampled bulk-interval ({BULK_POINTS}/run)", seconds, note)
    store.close()


# -- 4. where one history's time goes ----------------------------------------------------------
def take_apart_history(url: str, uri: str, run_id: str, table: Table) -> None:
    """One 100,000-point history: the server's store call alone (in this process), the
    requests (server handler + wire + json.loads), json.loads alone, and our conversion."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from mltui.store.series import series_from_history
    from mltui.store.server import ServerStore, convert
    from mltui.store.server.store import HISTORY_PAGE, METRIC_HISTORY

    sql = SqlAlchemyStore(sqlalchemy_uri(uri), str(Path(tempfile.gettempdir()) / "unused"))
    started = time.perf_counter()
    sql.get_metric_history(run_id, CHART_METRIC)
    table.add("  server's store call (SqlAlchemyStore, here)", time.perf_counter() - started)

    store = ServerStore(url)
    bodies, token, started = [], None, time.perf_counter()
    while True:
        params = {"run_id": run_id, "metric_key": CHART_METRIC, "max_results": HISTORY_PAGE}
        query = urlencode({**params, "page_token": token} if token else params)
        body = store.client.request("GET", f"{METRIC_HISTORY}?{query}").body
        bodies.append(body)
        token = json.loads(body).get("next_page_token")
        if not token:
            break
    size = sum(len(b) for b in bodies)
    requests = time.perf_counter() - started
    note = f"{len(bodies)} pages, {size / 1e6:.1f} MB"
    table.add("  requests (handler + wire + json.loads)", requests, note)
    with tempfile.TemporaryDirectory() as cache:  # an empty series cache
        os.environ["MLTUI_CACHE_DIR"] = cache
        before, started = mark(store), time.perf_counter()
        dict(store.metric_series_many([(run_id, CHART_METRIC)]))
        seconds, traffic = time.perf_counter() - started, traffic_since(store, before)
        table.add("  the same in bulk-interval windows (ServerStore)", seconds, traffic)
    started = time.perf_counter()
    pages = [json.loads(b) for b in bodies]
    table.add("  our json.loads alone", time.perf_counter() - started)
    started = time.perf_counter()
    series_from_history([convert.metric(m) for p in pages for m in p["metrics"]])
    table.add("  our conversion (convert.metric + Series)", time.perf_counter() - started)
    store.close()


def take_apart_listing(url: str, experiment_ids: list[str], table: Table) -> None:
    """Every run in one page: the request (server + wire), our json.loads, our conversion."""
    from mltui.store.server import ServerStore, convert
    from mltui.store.server.store import RUNS_SEARCH

    store = ServerStore(url)
    body = json.dumps({"experiment_ids": experiment_ids, "max_results": MLFLOW_PAGE}).encode()
    started = time.perf_counter()
    answer = store.client.request("POST", RUNS_SEARCH, body=body).body
    note = f"1 request, {len(answer) / 1e6:.1f} MB"
    table.add("  one page of every run: request", time.perf_counter() - started, note)
    started = time.perf_counter()
    runs = json.loads(answer)["runs"]
    table.add("  our json.loads alone", time.perf_counter() - started)
    started = time.perf_counter()
    [convert.run(r) for r in runs]
    table.add(f"  our conversion of {len(runs)} runs (convert.run)", time.perf_counter() - started)
    store.close()


def profile_server_handlers(uri: str, run_id: str, experiment_ids: list[str]) -> None:
    """cProfile of the server's own handlers (MLflow's Flask app in this process, on the same
    database): one 25,000-point history page and one 50,000-run search page."""
    import cProfile
    import io
    import pstats

    from mlflow.server import app, handlers

    from mltui.store.server.store import HISTORY_PAGE, METRIC_HISTORY, RUNS_SEARCH

    handlers._get_tracking_store(sqlalchemy_uri(uri), ARTIFACT_ROOT)
    site_packages = str(Path(handlers.__file__).parents[2]) + "/"
    client = app.test_client()
    query = urlencode({"run_id": run_id, "metric_key": CHART_METRIC, "max_results": HISTORY_PAGE})
    body = {"experiment_ids": experiment_ids, "max_results": MLFLOW_PAGE}
    calls = {
        "get-history (25,000 points)": lambda: client.get(f"{METRIC_HISTORY}?{query}"),
        "runs/search (one page of every run)": lambda: client.post(RUNS_SEARCH, json=body),
    }
    for name, call in calls.items():
        call()  # untimed: compiled queries, warm caches
        profile = cProfile.Profile()
        profile.enable()
        answer = call()
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(PROFILE_LINES)
        print(f"-- profile of the server's handler, {name}: {len(answer.data) / 1e6:.1f} MB")
        text = out.getvalue().split("\n\n", 2)[-1].rstrip()
        print(text.replace(site_packages, "").replace(str(REPO) + "/", ""))


# -- the full listing, round by round ----------------------------------------------------------
class ServerClock:
    """The time each answer's headers took to come (MLflow's handler sends its answer whole, so
    this is the server's time, queueing included), for http.client, ours and MlflowClient's
    (requests -> urllib3 -> http.client) alike; not the counts'."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.thread = threading.current_thread()

    def counts(self) -> bool:
        """This thread's requests and a listing's pages asked for at once, not the counts'."""
        thread = threading.current_thread()
        return thread is self.thread or thread.name.startswith("mltui-pages")

    @contextlib.contextmanager
    def timing(self):
        real = http.client.HTTPConnection.getresponse
        clock = self

        def getresponse(conn, *args, **kwargs):
            started = time.perf_counter()
            try:
                return real(conn, *args, **kwargs)
            finally:
                if clock.counts():
                    clock.seconds.append(time.perf_counter() - started)

        http.client.HTTPConnection.getresponse = getresponse  # type: ignore[method-assign]
        try:
            yield
        finally:
            http.client.HTTPConnection.getresponse = real  # type: ignore[method-assign]


#: What a way of listing returns: the runs listed, a note (requests, bytes), its seconds.
Listed = tuple[int, str, float]


def list_ours(url: str, ids: list[str], in_flight: int, sizes: tuple[int, ...] = ()) -> Listed:
    """Every active run through iter_runs, `in_flight` pages at once after the first (1: one
    at a time, as before), in pages of `sizes` (RUN_PAGE_SIZES unless given)."""
    from mltui.store.server import ServerStore
    from mltui.store.server import store as module

    kept = module.PAGES_IN_FLIGHT, module.RUN_PAGE_SIZES
    module.PAGES_IN_FLIGHT, module.RUN_PAGE_SIZES = in_flight, sizes or module.RUN_PAGE_SIZES
    store = ServerStore(url)
    before, started = mark(store), time.perf_counter()
    batches = store.iter_runs(ids)
    count = len(next(batches))
    first = time.perf_counter() - started
    count += sum(len(batch) for batch in batches)
    seconds, traffic = time.perf_counter() - started, traffic_since(store, before)
    store.close()
    module.PAGES_IN_FLIGHT, module.RUN_PAGE_SIZES = kept
    return count, f"{traffic}; first rows {first:.2f} s", seconds


def list_while_counting(url: str, ids: list[str]) -> Listed:
    """Every active run through iter_runs while the experiments list counts every
    experiment's runs (the app when a runs page is opened at once): its counts wait."""
    from mltui.store.server import ServerStore

    store = ServerStore(url)
    counts = threading.Thread(target=lambda: list(store.experiment_activity_stream()))
    before, started = mark(store), time.perf_counter()
    counts.start()
    batches = store.iter_runs(ids)
    count = len(next(batches))
    first = time.perf_counter() - started
    count += sum(len(batch) for batch in batches)
    seconds, traffic = time.perf_counter() - started, traffic_since(store, before)
    counts.join()
    store.close()
    return count, f"{traffic} (counts' included); first rows {first:.2f} s", seconds


def list_mlflow(url: str, ids: list[str]) -> Listed:
    """Every active run through MlflowClient.search_runs, in pages of 50,000 (its largest)."""
    from mlflow import MlflowClient

    client, count, token, requests = MlflowClient(tracking_uri=url), 0, None, 0
    started = time.perf_counter()
    while True:
        page = client.search_runs(ids, max_results=MLFLOW_PAGE, page_token=token)
        count, token, requests = count + len(page), page.token, requests + 1
        if not token:
            return count, f"{requests} requests", time.perf_counter() - started


def listing_rounds(url: str, rounds: int, label: str) -> dict[str, list[float]]:
    """`rounds` rounds of every way of listing, the order turning each round; prints each."""
    from mltui.store.server import ServerStore
    from mltui.store.server.store import PAGES_IN_FLIGHT, RUN_PAGE_SIZES

    store = ServerStore(url)
    ids = [e.experiment_id for e in store.experiments()]
    store.close()
    ways = {
        f"ServerStore {RUN_PAGE_SIZES[:2]}, {PAGES_IN_FLIGHT} at once": lambda: list_ours(
            url, ids, PAGES_IN_FLIGHT
        ),
        f"ServerStore {RUN_PAGE_SIZES[:2]}, 2 at once": lambda: list_ours(url, ids, 2),
        f"ServerStore (100, 2500), {PAGES_IN_FLIGHT} at once": lambda: list_ours(
            url, ids, PAGES_IN_FLIGHT, (100, 2500)
        ),
        "ServerStore (100, 2500, 50000), one at a time (before)": lambda: list_ours(
            url, ids, 1, (100, 2500, 50_000)
        ),
        "ServerStore while the counts run": lambda: list_while_counting(url, ids),
        "MlflowClient (50000)": lambda: list_mlflow(url, ids),
    }
    names = list(ways)
    ways[names[0]]()  # untimed: compiled queries, warm caches
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            clock = ServerClock()
            with clock.timing():
                count, traffic, seconds = ways[name]()
            times[name].append(seconds)
            server = " + ".join(f"{s:.2f}" for s in clock.seconds)
            print(
                f"{label} round {r + 1}: {name:<42} {seconds:6.2f} s, {count} runs, {traffic}; "
                f"server per request {server} s ({load()})",
                flush=True,
            )
    return times


def busy_loops(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(count)]


def measure_listing(url: str, args: argparse.Namespace) -> None:
    """The full listing, quiet then with `args.busy` busy loops; the ratios to MlflowClient."""
    results = {"quiet": listing_rounds(url, args.listing_rounds, "quiet")}
    loops = busy_loops(args.busy)
    try:
        results[f"{args.busy} busy loops"] = listing_rounds(url, args.listing_rounds, "busy")
    finally:
        for proc in loops:
            proc.kill()
            proc.wait()
    for label, times in results.items():
        theirs = times["MlflowClient (50000)"]
        for name, ours in times.items():
            ratios = " ".join(ratio(t, o) for t, o in zip(theirs, ours, strict=True))
            print(
                f"{label}: {name:<42} {min(ours):6.2f}-{max(ours):6.2f} s; "
                f"MlflowClient's time / this, per round: {ratios}"
            )


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.1f}x" if ours else "-"


def summary(ours: dict, theirs: dict, chart: dict, direct: dict) -> Iterable[str]:
    yield f"first rows: {ours['first']:.3f} s (goal < 1 s) vs MlflowClient {theirs['first']:.3f} s"
    yield (f"full listing: {ours['all']:.3f} s vs MlflowClient {theirs['all']:.3f} s "
           f"= {ratio(theirs['all'], ours['all'])} (goal >= 1x)")  # fmt: skip
    yield (f"chart: first curve {chart['first']:.3f} s, all drawn {chart['drawn']:.3f} s "
           f"(samples), all whole {chart['whole']:.3f} s (goal < 1 s with spikes) vs "
           f"MlflowClient {theirs['chart']:.3f} s = {ratio(theirs['chart'], chart['whole'])}")  # fmt: skip
    yield (
        f"direct PostgreSQL: runs {ratio(direct['runs_mlflow'], direct['runs'])}, "
        f"history {ratio(direct['history_mlflow'], direct['history'])} faster than MlflowClient"
    )


def measure(url: str, uri: str, expected: dict, args: argparse.Namespace, folder: Path) -> None:
    """Every measurement against the server at `url` over the database `uri`, then the summary."""
    print(f"mlflow server on {url} ({load()})")
    table = Table()
    pairs = long_pairs(url)
    ours = measure_ours(url, args.repeat, table)
    chart = measure_chart(url, pairs, expected["long"], args.chart_repeat, table, folder / "caches")
    theirs = measure_mlflow(url, pairs, expected["long"], table)
    measure_sampled(url, pairs, expected["long"], table)
    assert ours["count"] == theirs["count"] == expected["active"]
    take_apart_history(url, uri, pairs[0][0], table)
    take_apart_listing(url, theirs["experiment_ids"], table)
    print("-- PostgreSQL directly (bench_postgres.py)")
    direct = measure_direct(uri, args.repeat)
    if args.profile:
        profile_server_handlers(uri, pairs[0][0], theirs["experiment_ids"])
    print("--", load())
    for line in summary(ours, theirs, chart, direct):
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the listings")
    parser.add_argument("--profile", action="store_true", help="cProfile the server's handlers")
    parser.add_argument(
        "--chart-repeat", type=int, default=1, help="best of N for the chart (~20-50 s each)"
    )
    parser.add_argument(
        "--listing-rounds", type=int, default=0, help="only the full listing, N rounds each way"
    )
    parser.add_argument("--busy", type=int, default=2, help="busy loops for the listing rounds")
    parser.add_argument(
        "--workers", type=int, default=4, help="mlflow server's workers (MLflow's default: 4)"
    )
    args = parser.parse_args(argv)

    print(load())
    server = PostgresServer(find_bin_dir())
    server.start()
    folder = Path(tempfile.mkdtemp(prefix="mltui-bench-server-"))
    try:
        started = time.perf_counter()
        uri, expected = fill(server, args.runs, args.seed, long=not args.listing_rounds)
        print(f"filled PostgreSQL with COPY in {time.perf_counter() - started:.1f} s")
        check_with_mlflow(uri, expected)
        server_uri, log = sqlalchemy_uri(uri), folder / "mlflow-server.log"
        with mlflow_server(server_uri, folder / "artifacts", log, args.workers) as url:
            print(f"mlflow server with {args.workers} workers")
            if args.listing_rounds:
                measure_listing(url, args)
            else:
                measure(url, uri, expected, args, folder)
        # The folder is removed after a run; a server that failed to start leaves it, its log named
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
