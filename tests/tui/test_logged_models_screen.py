"""The logged-models list (L on the experiments screen) and one logged model opened, on stores
MLflow 3.18.0 wrote: MLflow's order, sorting by a metric, its params/metrics/tags and MLmodel."""

from __future__ import annotations

import pytest

from mltui.store.entities import LoggedModel
from mltui.tui.screens.experiments import ExperimentsScreen
from mltui.tui.screens.logged_models import (
    LoggedModelScreen,
    LoggedModelsScreen,
    registered_versions,
)
from mltui.tui.screens.mlmodel import MLmodelScreen
from mltui.tui.widgets.keyed_table import KeyedTable
from tests.conftest import expected_reading
from tests.tui.helpers import FIXTURES, fixture_store_path, make_app, screen_text

pytestmark = pytest.mark.anyio

STORE = "mlflow-3.18.0-sqlite"
EXPERIMENT = "10"  # the experiment holding the 4 logged models


async def settle(pilot) -> None:
    for _ in range(5):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_logged_models(pilot, experiment_id: str = EXPERIMENT) -> LoggedModelsScreen:
    """From the experiments screen, as a user does: the cursor on the experiment, then L."""
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ExperimentsScreen)
    table = screen.query_one("#experiments-table")
    table.move_cursor(row=table.get_row_index(experiment_id))
    await pilot.press("L")
    await settle(pilot)
    assert isinstance(pilot.app.screen, LoggedModelsScreen)
    return pilot.app.screen


def shown_ids(screen: LoggedModelsScreen) -> list[str]:
    table = screen.query_one(KeyedTable)
    return [row.key.value for row in table.ordered_rows]


def mlflow_order(name: str) -> list[dict]:
    """expected.json's logged models (MLflow's reading) in search_logged_models' order."""
    models = expected_reading(FIXTURES / name)["logged_models"]
    return sorted(models, key=lambda m: (-m["creation_timestamp"], m["model_id"]))


async def test_list_sort_open_and_mlmodel():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_logged_models(pilot)
        want = mlflow_order(STORE)
        assert shown_ids(screen) == [m["model_id"] for m in want]
        text = screen_text(app)
        assert "no run" in text and "offset=9" in text and "model_accuracy" in text
        assert "wine-classifier v4 v5, churn-model v2" in text

        # Best by accuracy first; the model with no metric stays last either way.
        column = next(k for k, label in screen.sort_columns() if label == "accuracy")
        screen.sort_by(column)
        await settle(pilot)
        by_accuracy = [m for m in want if m["source_run_id"]]
        by_accuracy.sort(key=lambda m: m["params"]["offset"], reverse=True)  # 0.9, 0.86, 0.81
        no_run = next(m["model_id"] for m in want if not m["source_run_id"])
        assert shown_ids(screen) == [m["model_id"] for m in by_accuracy] + [no_run]
        assert screen.current_model().model_id == by_accuracy[0]["model_id"]  # cursor at top
        await pilot.press("S")
        await settle(pilot)
        assert shown_ids(screen) == [m["model_id"] for m in reversed(by_accuracy)] + [no_run]

        # The filter keeps the models whose params match.
        await pilot.press("slash", *"offset=2", "enter")
        await settle(pilot)
        assert shown_ids(screen) == [
            next(m for m in want if m["params"].get("offset") == "2")["model_id"]
        ]
        await pilot.press("escape")
        await settle(pilot)
        assert len(shown_ids(screen)) == 4

        # Open the best one: its params, metrics and tags, then its MLmodel.
        best = by_accuracy[0]
        table = screen.query_one(KeyedTable)
        table.move_cursor(row=table.get_row_index(best["model_id"]))
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, LoggedModelScreen)
        assert detail.model.model_id == best["model_id"]
        assert "family" in screen_text(app) and "python_function" in screen_text(app)
        await pilot.press("2")
        await settle(pilot)
        assert "model_accuracy" in screen_text(app) and "0.9" in screen_text(app)
        await pilot.press("3")
        await settle(pilot)
        assert "mlflow.modelVersions" in screen_text(app)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MLmodelScreen)
        assert app.screen.model_dir.parent.name == best["model_id"]
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is detail
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_user_data_is_literal(store_copy):
    """A param and a metric key holding markup are shown as typed, never styled."""
    target = store_copy("mlflow-3.18.0-file")
    model_dir = next(target.glob("*/models/m-*/params")).parent
    (model_dir / "params" / "note").write_text("[bold red]loud[/bold red]")
    app = make_app(target)
    async with app.run_test(size=(160, 36)) as pilot:
        experiment_id = model_dir.parent.parent.name
        screen = await open_logged_models(pilot, experiment_id)
        assert "note=[bold red]loud[/bold red]" in screen_text(app)
        table = screen.query_one(KeyedTable)
        table.move_cursor(row=table.get_row_index(model_dir.name))
        await pilot.press("enter")
        await settle(pilot)
        assert "[bold red]loud[/bold red]" in screen_text(app)


async def test_experiment_without_models_says_so():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_logged_models(pilot, "1")
        assert "No logged models in these experiments" in screen_text(app)


@pytest.mark.parametrize(
    ("tag", "shown"),
    [
        (
            '[{"name": "a", "version": 1}, {"name": "b", "version": 2}, {"name": "a", "version": 3}]',
            "a v1 v3, b v2",
        ),
        ('{"name": "a"}', '{"name": "a"}'),  # not MLflow's list: shown as written
        ("[1, 2]", "[1, 2]"),
        ("not json", "not json"),
    ],
)
def test_registered_versions(tag, shown):
    model = LoggedModel("m-1", "1", "model", "", 0, 0, None, None, "READY", None)
    model.tags["mlflow.modelVersions"] = tag
    assert registered_versions(model) == shown


def test_logged_models_snapshot(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(120, 36), run_before=open_logged_models)


async def test_a_loss_sorts_lowest_first(tmp_path):
    """Sorting by an error metric puts the best (lowest) model first, where `enter` opens it:
    the demo sweep's logged models by rmse."""
    from mltui.store import open_store
    from mltui.store.demo import build_demo_store
    from mltui.tui.app import MltuiApp

    root = build_demo_store(tmp_path)
    app = MltuiApp(open_store(root), watch=False, demo=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        sweep = max(app.screen.rows, key=lambda r: r.runs or 0).experiment.experiment_id
        screen = await open_logged_models(pilot, sweep)
        column = next(k for k, label in screen.sort_columns() if label == "rmse")
        screen.sort_by(column)
        await settle(pilot)
        rmse = screen.sort_value(column)
        values = [rmse(m) for m in screen.visible_models() if rmse(m) is not None]
        assert len(values) >= 2 and values == sorted(values)
        assert rmse(screen.current_model()) == min(values)
