"""Plots across an experiment (scatter, parallel coordinates) and the runs CSV export."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from mltui.store.entities import Metric, Run
from mltui.store.export import CSV_RUN_COLUMNS, csv_number
from mltui.tui.csv_export import default_export_path, write_runs_csv
from mltui.tui.present.compare import is_finite_metric
from mltui.tui.present.parallel import gradient, parallel_data
from mltui.tui.present.scatter import scatter_data
from mltui.tui.screens.parallel import ParallelPlot, ParallelScreen
from mltui.tui.screens.scatter import ScatterScreen
from tests.tui.helpers import FIXED_NOW_MS, fixture_store_path, make_app

pytestmark = pytest.mark.anyio

STORE = "mlflow-3.17.2-file"
SQLITE = "mlflow-3.17.2-sqlite"
SWEEP = "elasticnet-sweep"


def experiment_runs(store, experiment: str = SWEEP) -> list[Run]:
    exp = store.experiment_by_name_or_id(experiment)
    return sorted(store.runs([exp.experiment_id]), key=lambda r: r.run_name)


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def opening(make_screen, experiment: str = SWEEP):
    """A snapshot `run_before` pushing `make_screen(runs)` on an experiment's runs."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.app.push_screen(make_screen(experiment_runs(pilot.app.store, experiment)))
        await settle(pilot)

    return run_before


def fake_run(name: str, params: dict[str, str], metrics: dict[str, float]) -> Run:
    return Run(
        run_id=f"id-{name}",
        experiment_id="1",
        run_name=name,
        status="FINISHED",
        start_time=None,
        end_time=None,
        lifecycle_stage="active",
        artifact_uri="",
        user_id="",
        params=params,
        metrics={k: Metric(k, v, 0, 0) for k, v in metrics.items()},
    )


# -- snapshots -----------------------------------------------------------------------------------


def test_snapshot_scatter_alpha_vs_r2_120x36(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app,
        terminal_size=(120, 36),
        run_before=opening(lambda runs: ScatterScreen(runs, "params.alpha", "metrics.r2")),
    )


def test_snapshot_scatter_leaves_out_infinite_rmse_120x36(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app,
        terminal_size=(120, 36),
        run_before=opening(lambda runs: ScatterScreen(runs, "params.l1_ratio", "rmse")),
    )


def test_snapshot_parallel_coordinates_120x36(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app,
        terminal_size=(120, 36),
        run_before=opening(
            lambda runs: ParallelScreen(runs, ["alpha", "l1_ratio", "solver"], "loss/val")
        ),
    )


def test_snapshot_parallel_coordinates_80x24(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(80, 24), run_before=opening(ParallelScreen))


# -- scatter -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [STORE, SQLITE])
def test_scatter_points_and_best_come_from_the_store(name):
    from mltui.store import open_store

    runs = experiment_runs(open_store(fixture_store_path(name)))
    for y, lower in (("metrics.rmse", True), ("metrics.r2", False)):
        data = scatter_data(runs, "params.alpha", y, lower)
        key = y.removeprefix("metrics.")
        usable = [r for r in runs if is_finite_metric(r.metrics[key].value)]
        assert len(data.points) == len(usable)
        assert data.left_out == len(runs) - len(usable)
        assert data.categories is None
        assert {(p.run.run_id, p.x, p.y) for p in data.points} == {
            (r.run_id, float(r.params["alpha"]), r.metrics[key].value) for r in usable
        }
        values = [r.metrics[key].value for r in usable]
        best = min(values) if lower else max(values)
        assert {data.points[i].run.run_id for i in data.best} == {
            r.run_id for r in usable if r.metrics[key].value == best
        }


def test_scatter_non_numeric_params_are_categories():
    runs = [
        fake_run("a", {"opt": "sgd"}, {"loss": 3.0}),
        fake_run("b", {"opt": "adam"}, {"loss": 1.0}),
        fake_run("c", {"opt": "sgd"}, {"loss": 2.0}),
        fake_run("d", {}, {"loss": 0.5}),  # no x: left out
    ]
    data = scatter_data(runs, "params.opt", "metrics.loss", lower=True)
    assert data.categories == ["adam", "sgd"]
    assert [(p.run.run_name, p.x) for p in data.points] == [("a", 1.0), ("b", 0.0), ("c", 1.0)]
    assert data.left_out == 1
    assert [data.points[i].run.run_name for i in data.best] == ["b"]


async def test_scatter_axes_are_picked_and_the_caption_names_the_best_run():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        runs = experiment_runs(app.store)
        screen = ScatterScreen(runs)
        await app.push_screen(screen)
        await settle(pilot)
        # Defaults: the first param that varies, the first metric.
        assert (screen.x, screen.y) == ("params.alpha", "metrics.loss/train")

        await pilot.press("y", *"r2", "enter")
        await pilot.press("x", *"l1_r", "enter")
        assert (screen.x, screen.y) == ("params.l1_ratio", "metrics.r2")
        best = max(runs, key=lambda r: r.metrics["r2"].value)
        caption = screen.caption().plain
        assert best.run_name in caption and "higher r2 is better" in caption

        await pilot.press("b")
        worst = min(runs, key=lambda r: r.metrics["r2"].value)
        assert worst.run_name in screen.caption().plain
        assert app.metric_directions == {"r2": True}
        await pilot.press("escape")
        assert app.screen is not screen


# -- parallel coordinates ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [STORE, SQLITE])
def test_parallel_axes_are_normalised(name):
    from mltui.store import open_store

    runs = experiment_runs(open_store(fixture_store_path(name)))
    params = ["params.alpha", "params.l1_ratio", "params.solver"]
    data = parallel_data(runs, params, "metrics.rmse", lower=True)
    usable = [r for r in runs if is_finite_metric(r.metrics["rmse"].value)]
    assert len(data.lines) == len(usable) and data.left_out == len(runs) - len(usable)
    alpha, ratio, solver, rmse = data.axes
    assert (ratio.low, ratio.high) == (0.1, 0.5)
    assert (alpha.low, alpha.high) == (0.1, 1.0)
    assert solver.categories == ["saga"]
    values = [r.metrics["rmse"].value for r in usable]
    assert (rmse.low, rmse.high) == (min(values), max(values))
    for line in data.lines:
        assert all(0.0 <= p <= 1.0 for p in line.positions)
        run = line.run
        assert line.positions[0] == pytest.approx((float(run.params["alpha"]) - 0.1) / 0.9)
        assert line.positions[2] == 0.5  # one category: the middle
    # Best (lowest rmse) drawn last, in the brightest colour.
    assert data.lines[-1].value == min(values) and data.lines[-1].goodness == 1.0
    assert data.lines[0].value == max(values) and data.lines[0].goodness == 0.0


def test_parallel_categories_are_spaced_evenly():
    runs = [
        fake_run("a", {"opt": "sgd", "lr": "0.1"}, {"acc": 0.5}),
        fake_run("b", {"opt": "adam", "lr": "0.3"}, {"acc": 0.9}),
        fake_run("c", {"opt": "rmsprop", "lr": "0.2"}, {"acc": 0.7}),
        fake_run("d", {"lr": "0.2"}, {"acc": 0.1}),  # no opt: left out
    ]
    data = parallel_data(runs, ["params.opt", "params.lr"], "metrics.acc", lower=False)
    assert data.axes[0].categories == ["adam", "rmsprop", "sgd"]
    assert data.left_out == 1
    by_name = {line.run.run_name: line.positions for line in data.lines}
    assert by_name["b"][0] == 0.0 and by_name["c"][0] == 0.5 and by_name["a"][0] == 1.0
    assert by_name["a"][1] == 0.0 and by_name["b"][1] == 1.0
    assert [line.run.run_name for line in data.lines] == ["a", "c", "b"]  # higher acc is better
    assert gradient(0.0) != gradient(1.0)


async def test_parallel_axes_and_metric_are_chosen():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        runs = experiment_runs(app.store)
        screen = ParallelScreen(runs)
        await app.push_screen(screen)
        await settle(pilot)
        assert screen.params == ["params.alpha", "params.l1_ratio"]  # the varying ones
        assert screen.metric == "metrics.loss/train"
        assert screen.query_one(ParallelPlot).display

        await pilot.press("m", *"r2", "enter")
        assert screen.metric == "metrics.r2"
        best = max(runs, key=lambda r: r.metrics["r2"].value)
        assert best.run_name in screen.legend().plain

        # Axes: the chooser lists every param; ctrl+a shows them all.
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("ctrl+a", "enter")
        await pilot.pause()
        assert screen.params == [
            "params.alpha",
            "params.l1_ratio",
            "params.max_iter",
            "params.solver",
        ]
        assert [axis.key for axis in screen.data.axes][-1] == "metrics.r2"
        await pilot.press("escape")
        assert app.screen is not screen


# -- runs CSV ------------------------------------------------------------------------------------


def read_csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("name", [STORE, SQLITE])
@pytest.mark.parametrize("experiment", [SWEEP, "[bold]x[/bold] markup & escapes"])
def test_runs_csv_is_mltui_export_csv(name, experiment, tmp_path):
    """The runs screen's CSV of some runs is, byte for byte, `mltui export --format csv` of
    the same runs: the same columns, times in UTC ISO 8601, values spelled the same."""
    from mltui.store import open_store
    from mltui.tui.cli import main

    store = open_store(fixture_store_path(name))
    exp = store.experiment_by_name_or_id(experiment)
    cli = tmp_path / "cli.csv"
    args = ["export", str(fixture_store_path(name)), "--experiment", experiment, "--format", "csv"]
    assert main([*args, "-o", str(cli)]) == 0
    runs = store.search_runs([exp.experiment_id])  # the export's order
    path = write_runs_csv(runs, {exp.experiment_id: exp.name}, tmp_path / "out.csv")
    assert path == (tmp_path / "out.csv").resolve()
    assert path.read_bytes() == cli.read_bytes()
    rows = read_csv(path)
    assert len(rows) == len(runs) + 1 > 1
    assert rows[0][: len(CSV_RUN_COLUMNS)] == list(CSV_RUN_COLUMNS)
    for run, row in zip(runs, rows[1:], strict=True):
        values = dict(zip(rows[0], row, strict=True))
        assert values["run_id"] == run.run_id and values["experiment_name"] == experiment
        assert values["start_time"].endswith("+00:00")  # UTC, whatever the local zone
        assert [values[f"tags.{k}"] for k in run.tags] == list(run.tags.values())  # verbatim
        for key, metric in run.metrics.items():
            assert values[f"metrics.{key}"] == csv_number(metric.value)
    assert sorted(tmp_path.iterdir()) == [cli, tmp_path / "out.csv"]  # no temporary file left


def test_runs_csv_values_are_literal(tmp_path):
    from mltui.store import open_store

    store = open_store(fixture_store_path(STORE))
    runs = experiment_runs(store, "[bold]x[/bold] markup & escapes")
    path = write_runs_csv(runs, {}, tmp_path / "t.csv")
    rows = read_csv(path)
    tags = [column for column in rows[0] if column.startswith("tags.")]
    for run, row in zip(runs, rows[1:], strict=True):
        assert row[3] == run.run_name
        assert row[-len(tags) :] == [run.tags.get(k.removeprefix("tags."), "") for k in tags]
    flat = "".join(v for row in rows for v in row)
    assert "[bold]x[/bold]" in flat and "\x1b[31m" in flat and "\n" in flat


def test_csv_numbers():
    assert csv_number(math.nan) == "NaN"
    assert csv_number(math.inf) == "Infinity"
    assert csv_number(-math.inf) == "-Infinity"
    assert csv_number(0.1 + 0.2) == "0.30000000000000004"
    assert csv_number(1e-300) == "1e-300"


def test_default_path_is_named_and_stamped(tmp_path, monkeypatch):
    monkeypatch.delenv("MLTUI_EXPORT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    first = default_export_path("réseau/ñ [x] 日本")
    assert first.parent == tmp_path
    assert first.name == "mltui-réseau-ñ-x-日本-20270101-000000.csv"  # FIXED_NOW_MS in UTC
    assert FIXED_NOW_MS == 1_798_761_600_000
    first.write_text("")
    assert (
        default_export_path("réseau/ñ [x] 日本").name
        == "mltui-réseau-ñ-x-日本-20270101-000000-2.csv"
    )

    elsewhere = tmp_path / "exports"
    monkeypatch.setenv("MLTUI_EXPORT_DIR", str(elsewhere))
    path = write_runs_csv([], {}, label="elasticnet-sweep")
    assert path.parent == elsewhere and path.name.startswith("mltui-elasticnet-sweep-")
    assert read_csv(path) == [list(CSV_RUN_COLUMNS)]


@pytest.mark.parametrize("make_screen", [ScatterScreen, ParallelScreen])
async def test_runs_without_metrics_say_so(make_screen):
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        runs = [fake_run("a", {"p": "1"}, {}), fake_run("b", {"p": "2"}, {})]
        screen = make_screen(runs)
        await app.push_screen(screen)
        await settle(pilot)
        empty = screen.query_one(f"#{screen.__class__.__name__[:-6].lower()}-empty")
        assert empty.display and "no metrics" in str(empty.render())
        await pilot.press("b", "escape")
        assert app.screen is not screen
