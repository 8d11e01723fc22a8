"""The experiments screen: listing, sorting, quick filter, the deleted toggle, opening runs."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tests.tui.helpers import FIXTURES, fixture_store_path, make_app, press_together

# Async tests run on anyio's pytest plugin.
pytestmark = pytest.mark.anyio

STORE = "mlflow-3.17.2-file"


def expected_experiments(name: str = STORE) -> list[dict]:
    return json.loads((FIXTURES / name / "expected.json").read_text())["experiments"]


async def loaded(pilot) -> DataTable:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return pilot.app.screen.query_one("#experiments-table", DataTable)


def row_ids(table: DataTable) -> list[str]:
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]


@pytest.mark.parametrize("name", [STORE, "mlflow-3.17.2-sqlite"])
async def test_lists_active_experiments_then_deleted_on_toggle(name):
    exps = expected_experiments(name)
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded(pilot)
        active = {e["experiment_id"] for e in exps if e["lifecycle_stage"] == "active"}
        assert set(row_ids(table)) == active
        await pilot.press("d")
        assert set(row_ids(table)) == {e["experiment_id"] for e in exps}


@pytest.mark.parametrize("name", [STORE, "mlflow-3.17.2-sqlite"])
async def test_run_counts_are_the_runs_the_runs_screen_lists(name):
    """Active runs, as MLflow lists them by default (its runs page filters on "Active") and as
    the runs screen does: the "run statuses" experiment has a deleted run, which was counted."""
    from mltui.tui.screens.runs import RunsScreen

    data = json.loads((FIXTURES / name / "expected.json").read_text())
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded(pilot)
        await pilot.press("d")
        for exp in data["experiments"]:
            runs = [r for r in data["runs"] if r["experiment_id"] == exp["experiment_id"]]
            want = sum(1 for r in runs if r["lifecycle_stage"] == "active")
            if exp["name"] == "run statuses":
                assert want < len(runs)  # the deleted run is left out
            cell = table.get_cell(exp["experiment_id"], "runs")
            assert cell.plain == str(want), exp["name"]
            screen = RunsScreen([exp["experiment_id"]])
            await app.push_screen(screen)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert len(screen.candidate_runs()) == want, exp["name"]
            await app.pop_screen()


async def test_sort_by_name_and_reverse():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded(pilot)
        screen = app.screen
        screen.sort_by("name")
        names = [table.get_cell(i, "name").plain for i in row_ids(table)]
        assert names == sorted(names, key=str.lower)
        await pilot.press("S")
        names_rev = [table.get_cell(i, "name").plain for i in row_ids(table)]
        assert names_rev == list(reversed(names))


@pytest.mark.parametrize("key", ["runs", "stage"])
async def test_sort_arrow_is_drawn_whole_on_a_column_as_narrow_as_its_label(key):
    """The Runs and Lifecycle columns are as wide as their labels: the arrow was cut off the header."""
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded(pilot)
        app.screen.sort_by(key)
        await pilot.pause()
        label = table.columns[ColumnKey(key)].label.plain
        assert label.endswith(("▲", "▼"))
        header = "".join(segment.text for segment in table.render_line(0))
        assert label in header


async def test_sort_picker_takes_a_space_typed_in_its_box():
    """A space after ↓ is not typed (the list has the focus); in the box it still is."""
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        screen = app.screen
        screen.sort_by("name")
        await pilot.press("s", *"t", "space", *"act", "enter")  # "Last activity"
        await pilot.pause()
        assert app.screen is screen
        assert screen.sort_key == "last"


@pytest.mark.parametrize("burst", [False, True])
async def test_enter_typed_fast_after_moves_opens_the_row_they_reached(burst):
    """Down Down Enter arriving together (a fast typist, keys sent over a slow SSH link): Enter
    opened the first row, since its binding ran before the table had moved its cursor."""
    from mltui.tui.screens.runs import RunsScreen

    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded(pilot)
        assert table.row_count >= 3
        third = row_ids(table)[2]
        keys = ("down", "down", "enter")
        if burst:
            await press_together(pilot, *keys, until=lambda: isinstance(app.screen, RunsScreen))
        else:
            await pilot.press(*keys)
            await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        assert app.screen.experiment_ids == [third]


async def test_quick_filter_narrows_and_escape_clears():
    exps = [e for e in expected_experiments() if e["lifecycle_stage"] == "active"]
    target = max(exps, key=lambda e: len(e["name"]))
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded(pilot)
        await pilot.press("slash")
        await pilot.press(*target["name"][:6])
        await pilot.pause()
        assert target["experiment_id"] in row_ids(table)
        assert table.row_count < len(exps)
        await pilot.press("escape")
        assert table.row_count == len(exps)


async def test_enter_opens_runs_of_marked_experiments():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded(pilot)
        first, second = row_ids(table)[:2]
        await pilot.press("space", "space", "enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "RunsScreen"
        assert sorted(app.screen.experiment_ids) == sorted([first, second])
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "ExperimentsScreen"


def test_snapshot_experiments_120x36(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(120, 36), run_before=_settle)


def test_snapshot_experiments_80x24_with_deleted(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(80, 24), press=["d"], run_before=_settle)


def test_snapshot_help(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"], run_before=_settle)


async def _settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_times_past_year_9999_show_as_invalid(store_copy):
    """An experiment updated "in year 3 million" used to stop the app at start-up."""
    import sqlite3

    db = store_copy("mlflow-3.17.2-sqlite")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("UPDATE experiments SET last_update_time = 99999999999999999")
    conn.execute("DELETE FROM runs WHERE experiment_id = 0")  # so the Default shows that time
    conn.close()
    app = make_app(db)
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded(pilot)
        assert table.get_cell("0", "last").plain == "invalid time 99999999999999999"


async def test_a_change_after_a_quiet_spell_is_read_at_once(tmp_path, monkeypatch):
    """A new experiment reported by the follower is read at once; while changes keep coming,
    the list is read again at most every RELOAD_SECONDS (here made long)."""
    import time

    from mltui.store import synth
    from mltui.store.follow import StoreChanges
    from mltui.tui.app import StoreChanged
    from mltui.tui.screens import experiments
    from tests.conftest import copy_fixture, store_path

    root = store_path(copy_fixture(STORE, tmp_path))
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        table = await loaded(pilot)
        now = int(time.time() * 1000)

        def appears(exp_id: str, name: str) -> None:
            synth.write_experiment(root, synth.ExperimentSpec(exp_id, name, now, runs=[]))
            app.on_store_changed(StoreChanged(StoreChanges(experiments={exp_id})))

        monkeypatch.setattr(experiments, "RELOAD_SECONDS", 0.0)  # a quiet spell since the read
        appears("123456789", "synced")
        await loaded(pilot)
        assert "123456789" in row_ids(table)
        monkeypatch.setattr(experiments, "RELOAD_SECONDS", 3600.0)  # changes keep coming
        appears("987654321", "synced-too")
        await loaded(pilot)
        assert "987654321" not in row_ids(table)
        assert app.screen._reload_timer is not None  # read once, when the time is up


async def test_a_page_under_another_hears_store_changes(tmp_path, monkeypatch):
    """Store changes reach every page on the stack through the app's one channel: a new
    experiment reported while the registry is open is listed on going back."""
    import time

    from mltui.store import synth
    from mltui.store.follow import StoreChanges
    from mltui.tui.messages import StoreChanged
    from mltui.tui.screens import experiments
    from mltui.tui.screens.registry import RegisteredModelsScreen
    from tests.conftest import copy_fixture, store_path
    from tests.tui.helpers import eventually

    root = store_path(copy_fixture(STORE, tmp_path))
    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await loaded(pilot)
        below = app.screen
        app.open_registry()
        assert await eventually(pilot, lambda: isinstance(app.screen, RegisteredModelsScreen))
        monkeypatch.setattr(experiments, "RELOAD_SECONDS", 0.0)
        now = int(time.time() * 1000)
        synth.write_experiment(root, synth.ExperimentSpec("123456789", "synced", now, runs=[]))
        app.post_message(StoreChanged(StoreChanges(experiments={"123456789"})))
        table = below.query_one("#experiments-table", DataTable)
        assert await eventually(pilot, lambda: "123456789" in row_ids(table))
        await pilot.press("escape")  # the one back rule: the registry closes
        assert app.screen is below
