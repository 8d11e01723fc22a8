"""A chart's histories from a real `mlflow server`: a sample of each at once, then each whole.

The server keeps its runs in a new SQLite database (a SQL store, as a team's server on
PostgreSQL); the histories are logged through MlflowClient and compared with its own reading.
"""

from __future__ import annotations

import math

import pytest

from mltui.store import open_store
from mltui.store.server import ServerStore
from mltui.store.server.series import MAX_PER_RUN, PREVIEW_POINTS
from mltui.store.server.store import POOL_SIZE
from tests.mlflow_server import mlflow_server

BASE_MS = 1_700_000_000_000
#: Steps of the spikes: no bucket of the sample starts at one (9,000 rows in 500 buckets of 18;
#: 9,000 is over the series cache's minimum).
SPIKES = {1001: 50.0, 3005: 60.0, 4999: 70.0}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chart-server")
    with mlflow_server(
        f"sqlite:///{folder / 'mlflow.db'}", folder / "artifacts", folder / "server.log"
    ) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server)


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """A series cache of each test's own, never the user's."""
    monkeypatch.setenv("MLTUI_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def store(server):
    opened = open_store(server)
    assert isinstance(opened, ServerStore)
    yield opened
    opened.close()


def log(client, points: list[tuple[int, int, float]], finished: bool = True) -> str:
    """A new run holding `points` (step, timestamp, value) of "loss"."""
    from mlflow.entities import Metric

    exp = client.get_experiment_by_name("charts")
    exp_id = exp.experiment_id if exp else client.create_experiment("charts")
    run_id = client.create_run(exp_id).info.run_id
    for start in range(0, len(points), 1000):
        batch = [Metric("loss", v, t, s) for s, t, v in points[start : start + 1000]]
        client.log_batch(run_id, metrics=batch)
    if finished:
        client.set_terminated(run_id)
    return run_id


def count_asks(monkeypatch) -> list[int]:
    """A list whose length is the number of bulk-interval requests made from now on (other
    screens' requests through the same client are not counted)."""
    from mltui.store.server import series

    made: list[int] = []
    ask = series.ask

    def counted(*args, **kwargs):
        made.append(1)
        return ask(*args, **kwargs)

    monkeypatch.setattr(series, "ask", counted)
    return made


def spiked(n: int = 9000) -> list[tuple[int, int, float]]:
    return [(s, BASE_MS + 10 * s, SPIKES.get(s, 1.0 / (s + 1))) for s in range(n)]


def columns(series) -> tuple[list, list, list]:
    return list(series.steps), list(series.timestamps), [repr(v) for v in series.values]


def mlflow_columns(client, run_id: str) -> tuple[list, list, list]:
    """MlflowClient's history, in its order (timestamp, step, value)."""
    history = client.get_metric_history(run_id, "loss")
    return (
        [m.step for m in history],
        [m.timestamp for m in history],
        [repr(m.value) for m in history],
    )


def test_a_long_history_is_sampled_first_then_whole_with_its_spikes(client, store):
    run_id = log(client, spiked())
    pair = (run_id, "loss")
    updates = [u for u in store.series_updates([pair]) if u.series is not None]
    sample, whole = updates[0], updates[-1]
    # The sample comes first and says it is one: the server's evenly spaced rows miss spikes.
    assert not sample.complete and len(sample.series) == PREVIEW_POINTS
    assert max(sample.series.values) < min(SPIKES.values())
    assert whole.complete and [u.complete for u in updates] == [False, True]
    assert columns(whole.series) == mlflow_columns(client, run_id)
    assert max(whole.series.values) == max(SPIKES.values())
    # Read in windows of the bulk endpoint, not get-history pages: the same points.
    assert columns(whole.series) == columns(store.metric_series(*pair))
    # A finished run's history is kept: reopened, it comes whole at once.
    again = [u for u in store.series_updates([pair]) if u.series is not None]
    assert [u.complete for u in again] == [True]
    assert columns(again[0].series) == columns(whole.series)


def test_a_short_history_comes_whole_from_the_sample_request(client, store):
    run_id = log(client, spiked(300), finished=False)
    before = store.client.traffic.requests
    updates = list(store.series_updates([(run_id, "loss")]))
    assert [u.complete for u in updates] == [True]
    assert columns(updates[0].series) == mlflow_columns(client, run_id)
    assert store.client.traffic.requests - before == 2  # runs/get, then one sample


def test_odd_histories_equal_mlflows_reading(client, store):
    """Negative steps, times out of step order, NaN and infinities; and one step holding more
    rows than a window gives (read from get-history pages instead)."""
    n = 1500
    odd = [
        (s - 200, BASE_MS + (s * 7919) % n, float(s % 97) / 7)
        for s in range(n)
    ]  # fmt: skip
    odd[10] = (odd[10][0], odd[10][1], math.nan)
    odd[20] = (odd[20][0], odd[20][1], math.inf)
    odd[30] = (odd[30][0], odd[30][1], -math.inf)
    crowded = [(0, BASE_MS + i, float(i % 13)) for i in range(MAX_PER_RUN + 100)]
    crowded += [(s, BASE_MS + 10_000 + s, 1.0) for s in range(1, 1000)]
    ids = [log(client, odd), log(client, crowded, finished=False)]
    whole = dict(store.metric_series_many([(run_id, "loss") for run_id in ids]))
    for run_id in ids:
        assert columns(whole[(run_id, "loss")]) == mlflow_columns(client, run_id), run_id


def test_without_windows_the_whole_history_comes_from_get_history_pages(client, store, monkeypatch):
    """A server whose store is not SQL (each window would read the whole history) still draws
    the sample first; one without the sampled endpoint (an older MLflow) draws it whole only."""
    from mltui.store.server import series

    run_id = log(client, spiked())
    store._windows = False  # as a file-store-backed server's server-info says
    updates = [u for u in store.series_updates([(run_id, "loss")]) if u.series is not None]
    assert [u.complete for u in updates] == [False, True]
    assert columns(updates[-1].series) == mlflow_columns(client, run_id)
    monkeypatch.setattr(series, "BULK_INTERVAL", "/ajax-api/2.0/mlflow/metrics/no-such-endpoint")
    other = log(client, spiked(), finished=False)
    updates = [u for u in store.series_updates([(other, "loss")]) if u.series is not None]
    assert [u.complete for u in updates] == [True] and not store.bulk_interval
    assert columns(updates[0].series) == mlflow_columns(client, other)


def test_leaving_stops_the_requests_not_yet_made(client, store, monkeypatch):
    ids = [log(client, spiked()) for _ in range(3)]
    asked = count_asks(monkeypatch)
    updates = store.series_updates([(run_id, "loss") for run_id in ids])
    first = next(u for u in updates if u.series is not None)
    assert not first.complete
    updates.close()
    stopped_at = len(asked)
    store.executor().shutdown(wait=True)  # the requests under way finish; no other starts
    assert len(asked) - stopped_at <= POOL_SIZE


@pytest.mark.anyio
async def test_the_chart_draws_the_sample_then_the_whole_history(client, server):
    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.chart import ChartScreen
    from tests.tui.helpers import eventually, settle

    run_id = log(client, spiked())
    seen: list[tuple[list[bool], str]] = []

    class Recording(ChartScreen):
        def on_chart_screen_histories_read(self, message) -> None:
            super().on_chart_screen_histories_read(message)
            flags = [s.sampled for s in self.chart.series]
            seen.append((flags, self.chart._status_line().plain))

    store = open_store(server)
    app = MltuiApp(store, watch=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = Recording([run_id], ["loss"])
        await app.push_screen(screen)

        def whole() -> bool:
            series = screen.chart.series
            return bool(series) and not series[0].sampled and not screen.chart.histories_loading

        assert await eventually(pilot, whole, 120)
        await pilot.pause()
        assert seen[0] == ([True], seen[0][1])
        assert seen[0][1].startswith("preview: 1 of 1 curves sampled, full histories loading")
        assert seen[-1][0] == [False] and "preview" not in seen[-1][1]
        assert max(screen.chart.series[0].series.values) == max(SPIKES.values())
        await pilot.press("q")
    store.close()


@pytest.mark.anyio
async def test_leaving_the_chart_while_it_loads_stops_its_reading(client, server, monkeypatch):
    from mltui.tui.app import MltuiApp
    from mltui.tui.screens.chart import ChartScreen
    from tests.tui.helpers import eventually, settle

    ids = [log(client, spiked()) for _ in range(3)]
    asked = count_asks(monkeypatch)
    store = open_store(server)
    app = MltuiApp(store, watch=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = ChartScreen(ids, ["loss"])
        await app.push_screen(screen)
        assert await eventually(pilot, lambda: bool(screen.chart.series), 120)
        reading = screen._reading
        assert reading is not None
        await pilot.press("escape")
        assert await eventually(pilot, lambda: reading.is_finished, 120)
        stopped_at = len(asked)
        store.executor().shutdown(wait=True)
        assert len(asked) - stopped_at <= POOL_SIZE
        await pilot.press("q")
    store.close()
