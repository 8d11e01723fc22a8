"""Snapshots of the runs screen on committed fixture stores (review every new SVG by eye)."""

from __future__ import annotations

from mltui.tui.screens.runs import RunsScreen
from tests.tui.helpers import fixture_store_path, make_app

STORE = "mlflow-3.17.2-file"
SQLITE = "mlflow-3.17.2-sqlite"


def open_runs(*experiments: str):
    """A `run_before` that opens the runs screen of experiments given by name."""

    async def run_before(pilot) -> None:
        app = pilot.app
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.pause()
        ids = [app.store.experiment_by_name_or_id(name).experiment_id for name in experiments]
        await app.push_screen(RunsScreen(ids))
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()

    return run_before


def test_sweep_120x36(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app,
        press=["down", "space", "down", "space"],
        terminal_size=(120, 36),
        run_before=open_runs("elasticnet-sweep"),
    )


def test_sweep_sorted_by_rmse_80x24(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app,
        press=["s", *"rmse", "enter"],
        terminal_size=(80, 24),
        run_before=open_runs("elasticnet-sweep"),
    )


def test_nested_filtered_tree_120x36(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app,
        press=["slash", *"grandchild", "enter"],
        terminal_size=(120, 36),
        run_before=open_runs("nested runs"),
    )


def test_bad_filter_80x24(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app,
        press=["slash", *"metrics.rmse <", "enter"],
        terminal_size=(80, 24),
        run_before=open_runs("elasticnet-sweep"),
    )


def test_statuses_with_deleted_sqlite_120x36(snap_compare):
    app = make_app(fixture_store_path(SQLITE))
    assert snap_compare(
        app,
        press=["d"],
        terminal_size=(120, 36),
        run_before=open_runs("run statuses"),
    )


def test_markup_and_escapes_are_literal_120x36(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app,
        press=["c", "ctrl+a", "enter"],
        terminal_size=(120, 36),
        run_before=open_runs("[bold]x[/bold] markup & escapes"),
    )


def test_column_chooser_80x24(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(
        app,
        press=["c", *"param"],
        terminal_size=(80, 24),
        run_before=open_runs("elasticnet-sweep"),
    )
