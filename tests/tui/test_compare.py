"""The compare screen: differences, best values, directions, charting and CSV export."""

from __future__ import annotations

import csv
import math

import pytest

from mltui.store.entities import Run
from mltui.tui.present.compare import default_lower_is_better, is_finite_metric
from mltui.tui.screens.compare import BEST, DIFFERS, CompareScreen
from mltui.tui.text import clean, one_line
from tests.tui.helpers import fixture_store_path, make_app, record_notices

pytestmark = pytest.mark.anyio

STORE = "mlflow-3.17.2-file"
SQLITE = "mlflow-3.17.2-sqlite"
SWEEP = "elasticnet-sweep"


def sweep_runs(store, experiment: str = SWEEP) -> list[Run]:
    """The experiment's runs in full, by name (the order the tests compare them in)."""
    exp = store.experiment_by_name_or_id(experiment)
    runs = sorted(store.runs([exp.experiment_id]), key=lambda r: r.run_name)
    return [store.run(r.run_id) for r in runs]


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_compare(pilot, experiment: str = SWEEP, count: int | None = None) -> CompareScreen:
    await settle(pilot)
    runs = sweep_runs(pilot.app.store, experiment)[:count]
    screen = CompareScreen([r.run_id for r in runs])
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


def compare(experiment: str = SWEEP, count: int | None = None):
    """A snapshot `run_before` that opens the compare screen on an experiment's runs."""

    async def run_before(pilot) -> None:
        await open_compare(pilot, experiment, count)

    return run_before


def row_keys(screen: CompareScreen) -> list[str]:
    return [key.value for key in screen.table.rows if not key.value.startswith("#")]


def cells(screen: CompareScreen, row_key: str) -> list[str]:
    table = screen.table
    return [cell.plain for cell in table.get_row(row_key)]


async def move_to(pilot, screen: CompareScreen, row_key: str) -> None:
    keys = [key.value for key in screen.table.rows]
    screen.table.move_cursor(row=keys.index(row_key), animate=False)
    await pilot.pause()


def store_value(run: Run, section: str, key: str) -> str | float | None:
    if section == "metrics":
        metric = run.metrics.get(key)
        return None if metric is None else metric.value
    return getattr(run, section).get(key)


def expected_best(runs: list[Run], key: str, lower: bool) -> set[str]:
    """The run ids holding the best finite value of a metric, straight from the store."""
    values = {
        r.run_id: r.metrics[key].value
        for r in runs
        if key in r.metrics and is_finite_metric(r.metrics[key].value)
    }
    if len(set(values.values())) < 2:
        return set()
    best = min(values.values()) if lower else max(values.values())
    return {run_id for run_id, value in values.items() if value == best}


def starred(screen: CompareScreen, key: str) -> set[str]:
    row = screen.table.get_row(f"metrics.{key}")
    return {
        run.run_id for run, cell in zip(screen.runs, row[1:], strict=True) if BEST in cell.plain
    }


# -- snapshots -----------------------------------------------------------------------------------


def test_snapshot_compare_sweep_120x36(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(120, 36), run_before=compare())


def test_snapshot_compare_only_differences_with_tags_120x36(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, press=["t", "f"], terminal_size=(120, 36), run_before=compare())


def test_snapshot_compare_three_runs_80x24(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app, press=["down", "down", "down"], terminal_size=(80, 24), run_before=compare(count=3)
    )


# -- behaviour -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [STORE, SQLITE])
async def test_differing_rows_are_marked_and_the_toggle_hides_equal_rows(name):
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        runs = sweep_runs(app.store)
        assert [r.run_id for r in screen.runs] == [r.run_id for r in runs]
        keys = row_keys(screen)
        differing = set()
        for row_key in keys:
            section, _, key = row_key.partition(".")
            values = [store_value(r, section, key) for r in runs]
            normal = {"NaN" if isinstance(v, float) and math.isnan(v) else v for v in values}
            shown = cells(screen, row_key)
            assert shown[0].startswith(DIFFERS) == (len(normal) > 1), row_key
            if len(normal) > 1:
                differing.add(row_key)
        assert {"params.alpha", "params.l1_ratio"} <= differing
        assert {"params.solver", "params.max_iter"}.isdisjoint(differing)
        assert "params.solver" in keys

        await pilot.press("f")
        assert screen.only_differences
        assert set(row_keys(screen)) == differing
        await pilot.press("f")
        assert row_keys(screen) == keys


async def test_tags_section_is_optional():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        assert not any(k.startswith("tags.") for k in row_keys(screen))
        await pilot.press("t")
        tags = [k for k in row_keys(screen) if k.startswith("tags.")]
        assert "tags.sweep.index" in tags and "tags.mlflow.user" in tags
        # User tags before MLflow's own.
        assert tags.index("tags.sweep.index") < tags.index("tags.mlflow.user")


@pytest.mark.parametrize("name", [STORE, SQLITE])
async def test_best_value_marks_the_right_run(name):
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        runs = sweep_runs(app.store)
        metrics = sorted({k for r in runs for k in r.metrics})
        assert metrics == ["loss/train", "loss/val", "r2", "rmse"]
        for key in metrics:
            lower = default_lower_is_better(key)
            assert starred(screen, key) == expected_best(runs, key, lower), key
            assert starred(screen, key), key
        # r2 is a score (higher is better); rmse and losses are errors.
        assert not default_lower_is_better("r2") and default_lower_is_better("rmse")


async def test_flipping_direction_moves_the_mark_and_is_remembered():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        runs = sweep_runs(app.store)
        lowest = expected_best(runs, "rmse", lower=True)
        highest = expected_best(runs, "rmse", lower=False)
        assert lowest != highest
        assert starred(screen, "rmse") == lowest

        await move_to(pilot, screen, "metrics.rmse")
        await pilot.press("b")
        assert starred(screen, "rmse") == highest
        assert app.metric_directions == {"rmse": False}
        assert cells(screen, "metrics.rmse")[0].endswith("↑")
        assert screen.current_row().key == "rmse"  # the cursor stays put

        # Remembered for the session: a new compare screen starts with the flipped direction.
        await pilot.press("escape")
        again = await open_compare(pilot)
        assert starred(again, "rmse") == highest
        await move_to(pilot, again, "metrics.rmse")
        await pilot.press("b")
        assert starred(again, "rmse") == lowest
        assert app.metric_directions == {"rmse": True}


async def test_b_and_g_off_a_metric_row_only_say_so():
    app = make_app(fixture_store_path(STORE))
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        await move_to(pilot, screen, "params.alpha")
        await pilot.press("b")
        await pilot.press("g")
        assert app.screen is screen
        assert getattr(app, "metric_directions", {}) == {}
        assert any("metric row" in n for n in seen)


async def test_g_charts_the_metric_under_the_cursor():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        await move_to(pilot, screen, "metrics.loss/train")
        await pilot.press("g")
        await settle(pilot)
        from mltui.tui.screens.chart import ChartScreen

        chart = app.screen
        assert isinstance(chart, ChartScreen)
        assert chart.run_ids == [run.run_id for run in screen.runs]
        assert chart.requested_keys == ["loss/train"]
        await pilot.press("escape")
        assert app.screen is screen


async def test_escape_goes_back():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("escape")
        assert app.screen is not screen


async def test_markup_in_names_and_values_is_literal():
    experiment = "[bold]x[/bold] markup & escapes"
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot, experiment)
        await pilot.press("t")
        runs = sweep_runs(app.store, experiment)
        assert len(runs) >= 2
        labels = [screen.table.columns[r.run_id].label.plain for r in runs]
        assert labels == [clean(one_line(r.run_name)) for r in runs]
        assert "[bold]x[/bold]" in labels
        for run in runs:
            for key, value in run.tags.items():
                row = screen.table.get_row(f"tags.{key}")
                index = screen.runs.index(next(r for r in screen.runs if r.run_id == run.run_id))
                assert row[index + 1].plain == one_line(value, 400) or value == ""
                assert "\x1b" not in row[index + 1].plain


async def test_missing_runs_are_reported():
    app = make_app(fixture_store_path(STORE))
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        runs = sweep_runs(app.store)[:2]
        screen = CompareScreen([runs[0].run_id, "0" * 32, runs[1].run_id])
        await app.push_screen(screen)
        await settle(pilot)
        assert [r.run_id for r in screen.runs] == [r.run_id for r in runs]
        assert any("0" * 32 in n for n in seen)


def read_csv(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def csv_float(text: str) -> float:
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(text) or float(text)


@pytest.mark.parametrize("only_differences", [False, True])
async def test_export_writes_the_table_as_shown(tmp_path, monkeypatch, only_differences):
    monkeypatch.setenv("MLTUI_EXPORT_DIR", str(tmp_path))
    app = make_app(fixture_store_path(STORE))
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_compare(pilot)
        if only_differences:
            await pilot.press("f")
        await pilot.press("e")
        await settle(pilot)
        written = list(tmp_path.glob("mltui-compare-*.csv"))
        assert len(written) == 1, list(tmp_path.iterdir())
        assert any(str(written[0]) in n for n in seen)
        shown = row_keys(screen)
        rows = read_csv(written[0])

    runs = sweep_runs(app.store)
    assert rows[0] == ["section", "key", *(r.run_name for r in runs)]
    assert rows[1] == ["run", "run_id", *(r.run_id for r in runs)]
    assert [f"{s}.{k}" for s, k, *_ in rows[2:]] == shown
    for section, key, *values in rows[2:]:
        for run, text in zip(runs, values, strict=True):
            expected = store_value(run, section, key)
            if section == "metrics":
                got = csv_float(text)
                assert got == expected or (math.isnan(got) and math.isnan(expected))
            else:
                assert text == expected
    if only_differences:
        assert not any(k in ("solver", "max_iter") for _, k, *_ in rows[2:])
    else:
        assert ["params", "solver", *(["saga"] * 6)] in rows
    # Full precision, NaN and infinities spelled out.
    flat = [v for row in rows for v in row]
    assert {"NaN", "Infinity", "-Infinity"} <= set(flat)
    assert repr(runs[0].metrics["r2"].value) in flat
