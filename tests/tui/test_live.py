"""Live: while the app shows a store, real writers add runs and metric points, and they appear."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mltui.store import open_store
from mltui.tui.app import MltuiApp
from mltui.tui.screens.runs import RunsScreen
from tests.tui.helpers import eventually
from tests.tui.test_run_screen import screen_text

pytestmark = pytest.mark.anyio

SWEEP = "elasticnet-sweep"


async def settle(pilot) -> None:
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_sweep(pilot) -> RunsScreen:
    await settle(pilot)
    exp = pilot.app.store.experiment_by_name_or_id(SWEEP)
    screen = RunsScreen([exp.experiment_id])
    await pilot.app.push_screen(screen)
    await settle(pilot)
    app = pilot.app
    assert await eventually(pilot, lambda: app.follower is not None)
    await asyncio.to_thread(app.follower.wait_ready, 60)
    return screen


MLFLOW_STORES = ["mlflow-3.17.2-file", "mlflow-3.17.2-sqlite"]


def run_mlflow(code: str, path: Path) -> str:
    """`code` run by MLflow in another process, in the store's folder, the store its default
    (so that MLflow leaves no mlflow.db where the tests run); returns what it printed."""
    uri = f"sqlite:///{path}" if path.suffix == ".db" else f"file://{path}"
    env = {
        **os.environ,
        "MLFLOW_ALLOW_FILE_STORE": "true",
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=path.parent,
        check=True,
    )
    return done.stdout


def mlflow_writer(path: Path, experiment_id: str) -> str:
    """A new run logged by MLflow's own client in another process; returns its run id."""
    code = f"""
import mlflow
from mlflow.tracking import MlflowClient
client = MlflowClient()
run = client.create_run({experiment_id!r}, run_name="live-run")
for step in range(5):
    client.log_metric(run.info.run_id, "rmse", 0.25 - step * 0.01, step=step)
client.log_param(run.info.run_id, "alpha", "0.77")
print(run.info.run_id)
"""
    return run_mlflow(code, path).strip().splitlines()[-1]


@pytest.mark.parametrize("name", MLFLOW_STORES)
async def test_a_new_run_from_mlflow_appears(store_copy, name):
    path = store_copy(name)
    app = MltuiApp(open_store(path), watch=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_sweep(pilot)
        before = set(screen.runs)
        cursor_run = screen.current_run_id()
        run_id = await asyncio.to_thread(mlflow_writer, path, screen.experiment_ids[0])
        assert await eventually(pilot, lambda: run_id in screen.table.shown_run_ids())
        assert set(screen.runs) == before | {run_id}
        run = screen.runs[run_id]
        assert run.params.get("alpha") == "0.77"
        assert await eventually(pilot, lambda: screen.runs[run_id].metrics["rmse"].step == 4)
        assert screen.runs[run_id].metrics["rmse"].value == pytest.approx(0.21)
        # New rows never pull the cursor off the run the person was on.
        assert screen.current_run_id() == cursor_run


async def test_raw_appends_update_latest_metric_even_split_lines(store_copy):
    path = store_copy("mlflow-3.17.2-file")
    app = MltuiApp(open_store(path), watch=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_sweep(pilot)
        run = next(r for r in screen.runs.values() if r.metrics)
        key = sorted(run.metrics)[0]
        metric_file = Path(path, run.experiment_id, run.run_id, "metrics", *key.split("/"))
        step = run.metrics[key].step + 1000
        now = int(time.time() * 1000)
        with open(metric_file, "a") as fh:
            fh.write(f"{now} 123.5")  # half a line: must wait for the rest
            fh.flush()
            await pilot.pause(1.0)
            assert screen.runs[run.run_id].metrics[key].value != 123.5
            fh.write(f" {step}\n")
        assert await eventually(pilot, lambda: screen.runs[run.run_id].metrics[key].step == step)
        assert screen.runs[run.run_id].metrics[key].value == 123.5
        assert await eventually(
            pilot, lambda: "123.5" in screen.table.get_cell(run.run_id, f"metrics.{key}").text
        )


async def test_an_open_chart_extends(store_copy):
    from mltui.tui.screens.chart import ChartScreen

    path = store_copy("mlflow-3.17.2-file")
    app = MltuiApp(open_store(path), watch=True)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_sweep(pilot)
        run = next(r for r in screen.runs.values() if "rmse" in r.metrics)
        chart = ChartScreen([run.run_id], ["rmse"])
        await app.push_screen(chart)
        await settle(pilot)
        before = len(chart.histories[(run.run_id, "rmse")])
        metric_file = Path(path, run.experiment_id, run.run_id, "metrics", "rmse")
        start = int(time.time() * 1000)
        with open(metric_file, "a") as fh:
            for i in range(3):
                fh.write(f"{start + i} {0.1 + i / 100} {1000 + i}\n")
        assert await eventually(
            pilot, lambda: len(chart.histories[(run.run_id, "rmse")]) == before + 3
        )
        assert list(chart.histories[(run.run_id, "rmse")].steps[-3:]) == [1000, 1001, 1002]


async def test_an_experiment_created_before_following_starts_appears(store_copy, monkeypatch):
    """Made by MLflow after the first screen was read, before following began: not lost."""
    from mltui.tui.screens.experiments import ExperimentsScreen

    monkeypatch.setattr(MltuiApp, "FOLLOW_AFTER_SECONDS", 3600)  # the test starts following
    path = store_copy("mlflow-3.17.2-file")
    app = MltuiApp(open_store(path), watch=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ExperimentsScreen) and screen.rows
        code = "from mlflow import MlflowClient; print(MlflowClient().create_experiment('early'))"
        exp_id = (await asyncio.to_thread(run_mlflow, code, path)).strip().splitlines()[-1]
        app.start_following()
        assert await eventually(
            pilot, lambda: exp_id in {r.experiment.experiment_id for r in screen.rows}
        )


def tag_rewriter(run_id: str, value: str) -> str:
    """MLflow's `set_tag` on a key the run has (SQLite: an UPDATE in place, no new row)."""
    return (
        "from mlflow.tracking import MlflowClient\n"
        f"MlflowClient().set_tag({run_id!r}, 'sweep.index', {value!r})\n"
    )


@pytest.mark.parametrize("name", MLFLOW_STORES)
async def test_a_finished_runs_tag_rewritten_by_mlflow_shows_on_the_page_on_top(store_copy, name):
    """The runs page on top shows a finished run's tag MLflow rewrote; then a run's page on
    top shows its own run's (its tags tab)."""
    from mltui.tui.screens.run import RunScreen

    path = store_copy(name)
    app = MltuiApp(open_store(path), watch=True)
    async with app.run_test(size=(120, 36)) as pilot:
        runs_page = await open_sweep(pilot)
        listed, alone = [
            r.run_id
            for r in runs_page.runs.values()
            if r.status == "FINISHED" and "sweep.index" in r.tags
        ][:2]
        await asyncio.to_thread(run_mlflow, tag_rewriter(listed, "rewritten-one"), path)
        assert await eventually(
            pilot, lambda: runs_page.runs[listed].tags["sweep.index"] == "rewritten-one"
        )
        run_page = RunScreen(alone)
        await app.push_screen(run_page)
        await settle(pilot)
        await pilot.press("3")
        assert "rewritten-two" not in screen_text(app)
        await asyncio.to_thread(run_mlflow, tag_rewriter(alone, "rewritten-two"), path)
        assert await eventually(pilot, lambda: "rewritten-two" in screen_text(app))


# -- the registry, changed by MLflow while it is shown -------------------------------------------
REGISTRY_WRITER = """
from mlflow.tracking import MlflowClient
client = MlflowClient()
client.set_registered_model_alias("wine-classifier", "live", "5")
client.update_registered_model("churn-model", description="retrained overnight")
"""


@pytest.mark.parametrize("name", MLFLOW_STORES)
async def test_registry_changes_from_mlflow_appear(store_copy, name):
    from mltui.tui.screens.model_versions import ModelVersionsScreen
    from mltui.tui.screens.registry import RegisteredModelsScreen

    path = store_copy(name)
    app = MltuiApp(open_store(path), watch=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        models = RegisteredModelsScreen()
        await app.push_screen(models)
        await settle(pilot)
        versions = ModelVersionsScreen("wine-classifier")
        await app.push_screen(versions)
        await settle(pilot)
        assert await eventually(pilot, lambda: app.follower is not None)
        await asyncio.to_thread(app.follower.wait_ready, 60)
        assert "live" not in versions.versions["5"].aliases
        await asyncio.to_thread(run_mlflow, REGISTRY_WRITER, path)
        # The screen on show, and the one under it, read the registry again by themselves.
        assert await eventually(pilot, lambda: "live" in versions.versions["5"].aliases)
        assert await eventually(
            pilot, lambda: models.models["churn-model"].description == "retrained overnight"
        )
        assert models.models["wine-classifier"].aliases.get("live") == "5"
        assert app.screen is versions
