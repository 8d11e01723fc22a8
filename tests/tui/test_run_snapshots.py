"""Snapshots of the run screen's tabs on fixture stores written by real MLflow."""

from __future__ import annotations

import json

from mltui.tui.screens.run import RunScreen
from tests.tui.helpers import FIXTURES, fixture_store_path, make_app

STORE = "mlflow-3.17.2-file"
#: Params, metrics (NaN, inf, out of order), tags with markup and escapes, a note, artifacts
#: with a folder tree and a binary file.
EDGE_RUN = "[bold]x[/bold]"


def run_id_named(run_name: str, name: str = STORE) -> str:
    runs = json.loads((FIXTURES / name / "expected.json").read_text())["runs"]
    return next(r["run_id"] for r in runs if r["run_name"] == run_name)


def on_run(run_name: str, name: str, press: tuple[str, ...]):
    """A run_before that opens the run screen, then presses keys, waiting for workers after each."""

    async def run_before(pilot) -> None:
        async def settle() -> None:
            for _ in range(4):
                await pilot.app.workers.wait_for_complete()
                await pilot.pause()

        await settle()
        await pilot.app.push_screen(RunScreen(run_id_named(run_name, name)))
        await settle()
        for key in press:
            await pilot.press(key)
            await settle()

    return run_before


def snap(snap_compare, run_name, press=(), size=(120, 36), name=STORE) -> bool:
    app = make_app(fixture_store_path(name))
    return snap_compare(app, terminal_size=size, run_before=on_run(run_name, name, tuple(press)))


def test_params_tab(snap_compare):
    assert snap(snap_compare, EDGE_RUN)


def test_metrics_tab(snap_compare):
    assert snap(snap_compare, EDGE_RUN, press=["2"])


def test_tags_tab_with_note(snap_compare):
    assert snap(snap_compare, EDGE_RUN, press=["3"])


def test_artifacts_tab_binary_file(snap_compare):
    # The first entry (the binary/ folder) opens, and its one file is highlighted.
    assert snap(snap_compare, EDGE_RUN, press=["4", "enter", "down"])


def test_artifacts_tab_text_preview(snap_compare):
    assert snap(snap_compare, EDGE_RUN, press=["4", "end"])


def test_datasets_tab(snap_compare):
    assert snap(snap_compare, "sweep-0", press=["5"])


def test_models_tab_logged_model(snap_compare):
    assert snap(snap_compare, "train-model-0", press=["6"])


def test_models_tab_mlflow2_history(snap_compare):
    assert snap(snap_compare, "train-model-1", press=["6"], name="mlflow-2.22.5-file")


def test_nested_run_header_80x24(snap_compare):
    assert snap(snap_compare, "child-a", size=(80, 24))


def test_metrics_tab_80x24(snap_compare):
    assert snap(snap_compare, EDGE_RUN, press=["2"], size=(80, 24))


def test_running_run_80x24(snap_compare):
    assert snap(snap_compare, "still-running", press=["2"], size=(80, 24))
