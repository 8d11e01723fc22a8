"""The chart screen and MetricChart: axes, smoothing, log scale, zoom, metric picker, snapshots."""

from __future__ import annotations

import json
import math
from array import array

import pytest
from textual.app import App, ComposeResult

from mltui.store.series import Series
from mltui.tui.present.axes import parse_x_range
from mltui.tui.present.chart import default_metric, run_labels
from mltui.tui.screens.chart import ChartScreen, MetricsScreen
from mltui.tui.widgets.metric_chart import ChartSeries, MetricChart, ZoomRangeScreen
from tests.tui.helpers import FIXTURES, fixture_store_path, make_app, record_notices, screen_text

pytestmark = pytest.mark.anyio

STORE = "mlflow-3.17.2-file"
SWEEP = [f"sweep-{i}" for i in range(6)]
EDGE_RUN = "[bold]x[/bold]"
ESC_RUN = "esc-\x1b[31mred\x1b[0m"


def run_id_named(run_name: str, name: str = STORE) -> str:
    runs = json.loads((FIXTURES / name / "expected.json").read_text())["runs"]
    return next(r["run_id"] for r in runs if r["run_name"] == run_name)


def sweep_ids(name: str = STORE) -> list[str]:
    return [run_id_named(run, name) for run in SWEEP]


async def settle(pilot) -> None:
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_chart(pilot, run_ids, keys=None, **kwargs) -> ChartScreen:
    await settle(pilot)
    screen = ChartScreen(run_ids, keys, **kwargs)
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


async def press(pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


# -- the screen ------------------------------------------------------------------------------------
async def test_default_metric_is_one_every_run_has_with_many_steps():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, sweep_ids())
        chart = screen.chart
        assert screen.keys == ["loss/train"]
        assert [s.label for s in chart.series] == SWEEP
        assert [s.color for s in chart.series] == list(range(6))
        assert all(len(s.series) == 40 for s in chart.series)
        text = screen_text(app)
        assert "elasticnet-sweep › 6 runs › loss/train" in text
        assert "━━ sweep-0   ━━ sweep-1" in text
        assert chart.drawn_points == 6 * 40
        assert chart.drawn_x_range == (0, 39)


async def test_axis_modes_cycle_and_label_in_utc():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, sweep_ids())
        chart = screen.chart
        assert "x: step" in screen_text(app)
        await press(pilot, "x")
        assert chart.x_mode == "wall"
        text = screen_text(app)
        assert "x: time (UTC) 2026-11-23" in text
        assert "06:08" in text  # the sweep ran 06:05-06:15 UTC
        lo, hi = chart.drawn_x_range
        assert 1_795_400_000 < lo < hi < 1_795_500_000
        await press(pilot, "x")
        assert chart.x_mode == "relative"
        assert "x: relative time" in screen_text(app)
        # Each run counts from its own first point: 40 points a second apart.
        assert chart.drawn_x_range == (0.0, 39.0)
        assert "30s" in screen_text(app)
        await press(pilot, "x")
        assert chart.x_mode == "step"


async def test_smoothing_toggles_and_steps_strength():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, sweep_ids())
        chart = screen.chart
        raw_points = chart.drawn_points
        await press(pilot, "s")
        assert chart.smoothing and chart.strength == 0.6
        assert "smoothing 0.6" in screen_text(app)
        # The raw curves stay, faint, under the smoothed ones.
        assert chart.drawn_points == 2 * raw_points
        await press(pilot, "right_square_bracket", "right_square_bracket")
        assert chart.strength == 0.8
        for _ in range(12):
            await pilot.press("left_square_bracket")
        await settle(pilot)
        assert chart.strength == 0.1
        await press(pilot, "s")
        assert not chart.smoothing and "raw" in screen_text(app)
        # `[` or `]` with smoothing off turns it on first.
        await press(pilot, "right_square_bracket")
        assert chart.smoothing and chart.strength == 0.1


async def test_log_scale_draws_log10_of_values():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, sweep_ids())
        chart = screen.chart
        linear = chart.drawn_y_range
        await press(pilot, "l")
        assert chart.log_y and "log y" in screen_text(app)
        low, high = chart.drawn_y_range
        assert high < math.log10(linear[1]) + 0.2 and low > math.log10(0.005)
        await press(pilot, "l")
        assert chart.drawn_y_range == linear


async def test_zoom_by_typed_range_keys_and_reset():
    app = make_app(fixture_store_path(STORE))
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, sweep_ids())
        chart = screen.chart
        await press(pilot, "z")
        assert isinstance(app.screen, ZoomRangeScreen)
        await press(pilot, *"10-20", "enter")
        assert app.screen is screen
        assert chart.zoom == (10, 20)
        assert chart.drawn_x_range == (10, 20)
        assert "zoom 10 – 20" in screen_text(app)
        await press(pilot, "plus")
        assert chart.zoom == (12.5, 17.5)
        await press(pilot, "right")
        assert chart.zoom == (13.75, 18.75)
        await press(pilot, "minus", "minus", "minus")
        assert chart.zoom is None  # back to the whole range
        await press(pilot, "plus", "0")
        assert chart.zoom is None
        # Nonsense leaves the zoom alone and says why.
        await press(pilot, "z", *"abc", "enter")
        assert chart.zoom is None
        assert any("range" in n for n in seen)
        await press(pilot, "z", "escape")
        assert app.screen is screen and chart.zoom is None


async def test_zoom_follows_the_same_points_to_another_axis():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, [run_id_named("sweep-0")])
        chart = screen.chart
        await press(pilot, "z", *"10-20", "enter", "x", "x")
        # Relative time of steps 10-20: a point a second, from the run's first point.
        assert chart.x_mode == "relative"
        assert chart.zoom == (10.0, 20.0)


async def test_metric_picker_adds_a_metric():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, sweep_ids())
        await press(pilot, "m")
        assert isinstance(app.screen, MetricsScreen)
        assert "Metrics to chart" in screen_text(app)
        await press(pilot, *"val", "down", "space", "enter")
        assert app.screen is screen
        assert screen.keys == ["loss/train", "loss/val"]
        labels = [s.label for s in screen.chart.series]
        assert len(labels) == 12
        assert labels[:2] == ["sweep-0 · loss/train", "sweep-0 · loss/val"]
        assert len({s.color for s in screen.chart.series}) == 12
        text = screen_text(app)
        assert "6 runs › loss/train, loss/val" in text
        assert "(NaN×1)" in text  # sweep-1's loss/val ends in NaN


async def test_metric_picker_needs_one_metric():
    app = make_app(fixture_store_path(STORE))
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, sweep_ids())
        await press(pilot, "m", "down", "space", "enter")
        assert screen.keys == ["loss/train"]
        assert any("at least one" in n for n in seen)


async def test_escape_goes_back():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        under = app.screen
        await open_chart(pilot, sweep_ids())
        await press(pilot, "escape")
        assert app.screen is under


async def test_names_are_literal_and_infinities_marked():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(
            pilot, [run_id_named(EDGE_RUN), run_id_named(ESC_RUN)], ["with_inf", "m"]
        )
        labels = [s.label for s in screen.chart.series]
        assert labels == [f"{EDGE_RUN} · with_inf", f"{ESC_RUN} · m"]
        text = screen_text(app)
        assert "[bold]x[/bold] · with_inf (+inf×1 ▲)" in text
        assert "esc-␛[31mred␛[0m · m" in text
        assert "\x1b" not in text
        assert "▲" in text.split("━━")[0]  # the marker on the plot, not only in the legend


async def test_missing_runs_are_reported_and_the_rest_drawn():
    app = make_app(fixture_store_path(STORE))
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, [run_id_named("sweep-0"), "f" * 32])
        assert [s.label for s in screen.chart.series] == ["sweep-0"]
        assert any("Not in this store" in n for n in seen)


async def test_runs_handed_over_are_not_read_again():
    app = make_app(fixture_store_path(STORE))
    store = app.store
    runs = [store.run(run_id) for run_id in sweep_ids()[:2]]
    calls = []
    read = store.run
    store.run = lambda run_id: calls.append(run_id) or read(run_id)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, [r.run_id for r in runs], ["loss/val"], runs=runs)
        assert [s.label for s in screen.chart.series] == ["sweep-0", "sweep-1"]
        assert calls == []


async def test_runs_without_metrics():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, [])
        assert screen.chart.series == []
        assert "No metrics logged by these runs." in screen_text(app)


async def test_sqlite_store_charts_the_same():
    app = make_app(fixture_store_path("mlflow-3.17.2-sqlite"))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_chart(pilot, sweep_ids("mlflow-3.17.2-sqlite"))
        assert screen.keys == ["loss/train"]
        assert screen.chart.drawn_points == 6 * 40


# -- the widget on its own ------------------------------------------------------------------------
class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MetricChart()


def spiky(n: int, spike_at: int, spike: float) -> Series:
    values = array("d", (1.0 + 0.001 * (i % 10) for i in range(n)))
    values[spike_at] = spike
    return Series(array("q", range(n)), array("q", range(0, n * 1000, 1000)), values)


async def test_long_series_are_reduced_to_the_width_keeping_spikes():
    app = ChartApp()
    async with app.run_test(size=(120, 36)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series([ChartSeries("long", spiky(100_000, 54_321, 9.0))])
        await pilot.pause()
        wide = chart.drawn_points
        assert wide <= 2 * 2 * 120
        assert chart.drawn_y_range[1] >= 9.0  # the one spike sets the top
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert chart.drawn_points < wide
        assert chart.drawn_y_range[1] >= 9.0


async def test_theme_change_redraws():
    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(MetricChart)
        chart.set_series([ChartSeries("a", spiky(100, 5, 2.0))])
        await pilot.pause()
        before = chart._render_key
        app.theme = "textual-light"
        await pilot.pause()
        assert chart._render_key != before and chart._render_key[-2] == "textual-light"


async def test_empty_chart_says_so():
    app = ChartApp()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(MetricChart)
        chart.empty_message = "Nothing yet."
        await pilot.pause()
        assert "Nothing yet." in screen_text(app)


async def test_sampled_curves_are_said_to_be_previews_until_replaced():
    app = ChartApp()
    async with app.run_test(size=(120, 36)) as pilot:
        chart = app.query_one(MetricChart)
        await pilot.pause()
        chart.histories_loading = True
        whole = ChartSeries("whole", spiky(100, 5, 2.0), 0)
        chart.set_series([whole, ChartSeries("sample", spiky(50, 5, 2.0), 1, sampled=True)])
        await pilot.pause()
        text = chart.render().plain
        assert text.startswith("preview: 1 of 2 curves sampled, full histories loading")
        assert "sample (sampled)" in text and "whole (" not in text
        chart.histories_loading = (
            False  # the reading stopped (left, or failed) with a sample on show
        )
        await pilot.pause()
        assert "1 of 2 curves sampled, full histories not read" in chart.render().plain
        chart.set_series([whole, ChartSeries("sample", spiky(100, 5, 2.0), 1)])
        await pilot.pause()
        assert "sample" not in chart.render().plain.replace("━━ sample", "")


# -- helpers --------------------------------------------------------------------------------------
def test_parse_x_range():
    assert parse_x_range("100-500", "step") == (100, 500)
    assert parse_x_range("10k..20k", "step") == (10_000, 20_000)
    assert parse_x_range("300-", "step") == (300, None)
    assert parse_x_range("..50", "step") == (None, 50)
    assert parse_x_range("-20-10", "step") == (-20, 10)
    assert parse_x_range("500-100", "step") == (100, 500)
    assert parse_x_range("90-5m", "relative") == (90, 300)
    assert parse_x_range("1h30m to 2h", "relative") == (5400, 7200)
    day = 1_798_761_600.0  # 2027-01-01T00:00Z
    assert parse_x_range("14:00-15:30", "wall", day) == (day + 50_400, day + 55_800)
    assert parse_x_range("23:00-01:00", "wall", day) == (day + 82_800, day + 90_000)
    assert parse_x_range("2027-01-02T00:00..2027-01-02T01:00", "wall") == (
        day + 86_400,
        day + 90_000,
    )
    for bad, mode in [("abc", "step"), ("1-x", "step"), ("5", "step"), ("1q-2", "relative")]:
        with pytest.raises(ValueError):
            parse_x_range(bad, mode)


def test_default_metric_and_labels():
    from mltui.store.entities import Metric, Run

    def run(run_id, name, **metrics):
        r = Run(run_id, "1", name, "FINISHED", 0, 1, "active", "", "u")
        r.metrics = {k: Metric(k, 0.0, 0, step) for k, step in metrics.items()}
        return r

    runs = [
        run("a" * 32, "x", loss=99, acc=99, **{"system/cpu": 5000}),
        run("b" * 32, "x", loss=10, acc=10, **{"system/cpu": 5000}),
        run("c" * 32, "", acc=3),
    ]
    assert default_metric(runs) == "acc"  # every run has it
    assert default_metric(runs[:2]) == "acc"  # a tie on steps: the first in order
    runs[0].metrics["loss"].step = 100
    assert default_metric(runs[:2]) == "loss"
    assert default_metric([]) is None
    assert run_labels(runs) == {
        "a" * 32: "x (aaaaaaaa)",
        "b" * 32: "x (bbbbbbbb)",
        "c" * 32: "cccccccc",
    }


# -- snapshots ------------------------------------------------------------------------------------
def on_chart(run_names, keys=None, press=()):
    async def run_before(pilot) -> None:
        await open_chart(pilot, [run_id_named(name) for name in run_names], keys)
        for key in press:
            await pilot.press(key)
            await settle(pilot)

    return run_before


def snap(snap_compare, run_names=SWEEP, keys=None, press=(), size=(120, 36)) -> bool:
    app = make_app(fixture_store_path(STORE))
    return snap_compare(app, terminal_size=size, run_before=on_chart(run_names, keys, press))


def test_snapshot_step_axis(snap_compare):
    assert snap(snap_compare)


def test_snapshot_wall_time_axis(snap_compare):
    assert snap(snap_compare, press=["x"])


def test_snapshot_relative_time_axis(snap_compare):
    assert snap(snap_compare, press=["x", "x"])


def test_snapshot_smoothing(snap_compare):
    assert snap(snap_compare, press=["s", "right_square_bracket"])


def test_snapshot_log_scale(snap_compare):
    assert snap(snap_compare, press=["l"])


def test_snapshot_zoomed(snap_compare):
    assert snap(snap_compare, press=["z", *"10-20", "enter"])


def test_snapshot_nan_and_infinities(snap_compare):
    assert snap(snap_compare, run_names=[EDGE_RUN], keys=["with_inf", "neg_inf", "nan_last"])


def test_snapshot_two_metrics_80x24(snap_compare):
    assert snap(snap_compare, keys=["loss/train", "loss/val"], size=(80, 24))
