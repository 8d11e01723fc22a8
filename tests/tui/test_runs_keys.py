"""From the runs screen, the keys reach compare, chart, scatter, parallel coordinates and export."""

from __future__ import annotations

import csv
from operator import itemgetter

import pytest

from mltui.tui.cli import main
from mltui.tui.screens.runs import RunsScreen
from tests.tui.helpers import fixture_store_path, make_app

pytestmark = pytest.mark.anyio


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def sweep(pilot) -> RunsScreen:
    await settle(pilot)
    exp = pilot.app.store.experiment_by_name_or_id("elasticnet-sweep")
    screen = RunsScreen([exp.experiment_id])
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


@pytest.mark.parametrize(
    "keys, screen_name",
    [
        (["space", "space", "C"], "CompareScreen"),
        (["space", "space", "g"], "ChartScreen"),
        (["g"], "ChartScreen"),
        (["p"], "ScatterScreen"),
        (["P"], "ParallelScreen"),
    ],
)
async def test_keys_open_screens(keys, screen_name):
    app = make_app(fixture_store_path("mlflow-3.17.2-file"))
    async with app.run_test(size=(120, 36)) as pilot:
        await sweep(pilot)
        await pilot.press(*keys)
        await settle(pilot)
        assert type(app.screen).__name__ == screen_name
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "RunsScreen"


async def test_compare_needs_two_marked_runs():
    app = make_app(fixture_store_path("mlflow-3.17.2-file"))
    async with app.run_test(size=(120, 36)) as pilot:
        await sweep(pilot)
        await pilot.press("space", "C")
        await settle(pilot)
        assert type(app.screen).__name__ == "RunsScreen"


async def test_export_writes_the_shown_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLTUI_EXPORT_DIR", str(tmp_path))
    store = fixture_store_path("mlflow-3.17.2-file")
    app = make_app(store)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await sweep(pilot)
        await pilot.press("e")
        await settle(pilot)
        files = list(tmp_path.glob("*.csv"))
        assert len(files) == 1
        rows = list(csv.DictReader(files[0].open(encoding="utf-8")))
        assert [r["run_id"] for r in rows] == screen.table.shown_run_ids()

    # The same columns and values as `mltui export --format csv` of that experiment.
    cli = tmp_path / "cli.csv"
    args = ["export", str(store), "--experiment", "elasticnet-sweep", "--format", "csv"]
    assert main([*args, "-o", str(cli)]) == 0
    exported = list(csv.DictReader(cli.open(encoding="utf-8")))
    assert list(rows[0]) == list(exported[0])
    assert sorted(rows, key=itemgetter("run_id")) == sorted(exported, key=itemgetter("run_id"))
