"""The MLmodel view: snapshots of its tabs, and how it is reached (run, registry, command line)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from textual.widgets import DataTable

from mltui.store.locate import enclosing_store
from mltui.store.model_folders import find_mlmodels, mlmodel_target
from mltui.tui.app import MltuiApp
from mltui.tui.screens.mlmodel import MLmodelScreen
from mltui.tui.screens.run import RunScreen
from tests.tui.helpers import FIXTURES, fixture_store_path, make_app, screen_text

pytestmark = pytest.mark.anyio

STORE = "mlflow-3.17.2-file"
#: train-model-1's logged model: wine-classifier v2 (alias champion).
MODEL_ID = "m-9e1ebe7106004e2e8dca19c4308d212f"
RUN_ID = "017fb69ad489480da61432c2f01a106b"

TENSOR_MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    data: model.pt
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.pytorch
    pickle_module_name: mlflow.pytorch.pickle_module
    python_version: 3.11.7
  pytorch:
    code: null
    model_data: data
    pytorch_version: 2.5.1
mlflow_version: 2.22.5
model_size_bytes: 1843200
model_uuid: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
run_id: 5f4e3d2c1b0a99887766554433221100
signature:
  inputs: '[{"name": "images", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 1, 28, 28]}}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 10]}}]'
  params: '[{"name": "temperature", "type": "double", "default": 1.0, "shape": null},
    {"name": "top_k", "type": "long", "default": 5, "shape": null},
    {"name": "labels", "type": "string", "default": ["a", "b"], "shape": [-1]}]'
utc_time_created: '2026-03-14 15:09:26.535897'
"""


def fixture_model_dir(model_id: str = MODEL_ID, name: str = STORE) -> Path:
    found = list((FIXTURES / name / "mlruns").glob(f"*/models/{model_id}/artifacts"))
    assert len(found) == 1
    return found[0]


def tensor_model(root: Path) -> Path:
    folder = root / "model"
    folder.mkdir()
    (folder / "MLmodel").write_text(TENSOR_MLMODEL)
    (folder / "requirements.txt").write_text("mlflow==2.22.5\ntorch==2.5.1\n")
    (folder / "python_env.yaml").write_text(
        "python: 3.11.7\ndependencies:\n- -r requirements.txt\n"
    )
    return folder


async def settle(pilot) -> None:
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def on_model(folder: Path, press: tuple[str, ...] = (), store_screen: bool = True):
    """A run_before opening the MLmodel view (over the store app) and pressing keys."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        if store_screen:
            await pilot.app.push_screen(MLmodelScreen(folder, pilot.app.store))
            await settle(pilot)
        for key in press:
            await pilot.press(key)
            await settle(pilot)

    return run_before


# -- snapshots -----------------------------------------------------------------------------------
def test_flavors_tab_snapshot(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(120, 36), run_before=on_model(fixture_model_dir()))


def test_column_signature_snapshot(snap_compare):
    app = make_app(fixture_store_path(STORE))
    run_before = on_model(fixture_model_dir(), press=("2",))
    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_input_example_snapshot(snap_compare):
    app = make_app(fixture_store_path(STORE))
    run_before = on_model(fixture_model_dir(), press=("3",))
    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_tensor_signature_snapshot_80x24(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the folder is shown relative to here
    app = MltuiApp(None, model_dir=tensor_model(tmp_path))
    run_before = on_model(Path("model"), press=("2",), store_screen=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_environment_snapshot_80x24(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = MltuiApp(None, model_dir=tensor_model(tmp_path))
    run_before = on_model(Path("model"), press=("4",), store_screen=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


# -- what it shows -------------------------------------------------------------------------------
async def test_header_names_the_run_and_o_opens_it():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        screen = MLmodelScreen(fixture_model_dir(), app.store)
        await app.push_screen(screen)
        await settle(pilot)
        text = screen_text(app)
        assert MODEL_ID in text
        assert "train-model-1" in text and RUN_ID in text
        assert "2026-11-23 07:05:13" in text and "3.17.2" in text
        assert "python_function" in text and "mlflow.pyfunc.model" in text
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == RUN_ID
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert not isinstance(app.screen, MLmodelScreen)


async def test_example_table_holds_the_rows():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await app.push_screen(MLmodelScreen(fixture_model_dir(), app.store))
        await settle(pilot)
        await pilot.press("3")
        table = app.screen.query_one("#example-table", DataTable)
        assert [c.label.plain for c in table.columns.values()] == ["a", "b"]
        assert [[c.plain for c in table.get_row_at(i)] for i in range(table.row_count)] == [
            ["1.0", "0.5"],
            ["2.0", "0.25"],
        ]


async def test_tensor_signature_and_params(tmp_path):
    app = MltuiApp(None, model_dir=tensor_model(tmp_path))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        text = screen_text(app)
        assert "images" in text and "float32" in text and "(-1, 1, 28, 28)" in text
        assert "(-1, 10)" in text
        assert "temperature" in text and "scalar" in text and '["a", "b"]' in text
        assert "(-1,)" in text
        assert "none recorded" not in text and "5f4e3d2c1b0a99887766554433221100" in text


async def test_user_data_is_literal(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "MLmodel").write_text(
        "flavors:\n  '[bold]flavor[/bold]':\n    note: \"[red]x[/red] \\e[31m\"\n"
        'signature:\n  inputs: \'[{"type": "string", "name": "[i]col"}]\'\n'
    )
    app = MltuiApp(None, model_dir=folder)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "[bold]flavor[/bold]" in text and "[red]x[/red] ␛[31m" in text
        await pilot.press("2")
        assert "[i]col" in screen_text(app)


async def test_unreadable_mlmodel_says_why(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: [unclosed\n")
    app = MltuiApp(None, model_dir=folder)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        assert "is not valid YAML" in screen_text(app)
        await pilot.press("escape")  # the only screen: escape leaves the app
        await pilot.pause()
        assert app.return_code == 0


async def open_from_models_tab(app, pilot) -> None:
    """The run's Models tab, Enter on its first model: its MLmodel page."""
    await settle(pilot)
    await app.push_screen(RunScreen(RUN_ID))
    await settle(pilot)
    await pilot.press("6", "enter")
    await settle(pilot)
    assert isinstance(app.screen, MLmodelScreen)


async def test_enter_on_a_run_model_opens_the_mlmodel_view():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_from_models_tab(app, pilot)
        assert app.screen.model_dir == fixture_model_dir()
        await pilot.press("5")  # the files of the model folder
        await settle(pilot)
        assert "MLmodel" in screen_text(app) and "python_model.pkl" in screen_text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)


async def test_the_trail_names_the_store_as_the_other_pages_do():
    """The demo's model page says "demo store" (not the demo's temporary folder name)."""
    app = make_app(fixture_store_path(STORE), demo=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_from_models_tab(app, pilot)
        first_line = screen_text(app).splitlines()[0]
        assert first_line.split("›")[0].strip() == "demo store", first_line


async def test_enter_on_an_mlflow2_history_row_opens_the_mlmodel_view():
    name = "mlflow-2.22.5-file"
    runs = json.loads((FIXTURES / name / "expected.json").read_text())["runs"]
    run_id = next(r["run_id"] for r in runs if r["run_name"] == "train-model-1")
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await app.push_screen(RunScreen(run_id))
        await settle(pilot)
        await pilot.press("6", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MLmodelScreen)
        assert app.screen.model_dir.name == "model"
        assert "Artifact path model" in " ".join(screen_text(app).split())


# -- reaching it from the command line ------------------------------------------------------------
def test_mlmodel_target(tmp_path):
    folder = tensor_model(tmp_path)
    assert mlmodel_target(str(folder)) == folder
    assert mlmodel_target(str(folder / "MLmodel")) == folder
    assert mlmodel_target(str(tmp_path)) is None
    assert mlmodel_target(str(fixture_store_path(STORE))) is None
    assert mlmodel_target("sqlite:///nothing.db") is None


@pytest.mark.parametrize(
    "name", ["mlflow-3.17.2-file", "mlflow-3.17.2-sqlite", "mlflow-2.22.5-file"]
)
def test_enclosing_store_is_found(name):
    folders = find_mlmodels(FIXTURES / name / "mlruns", max_depth=6)
    assert folders
    store = enclosing_store(folders[0])
    assert store is not None
    want = fixture_store_path(name)
    assert Path(store.location).resolve() == want.resolve()
    store.close()


def test_loose_folder_has_no_store(tmp_path):
    assert enclosing_store(tensor_model(tmp_path)) is None


def test_launch_opens_the_mlmodel_app(monkeypatch):
    from mltui.tui import launch

    seen = {}

    def fake_run(self):
        seen["app"] = self

    monkeypatch.setattr(MltuiApp, "run", fake_run)
    args = argparse.Namespace(
        demo=False,
        store=str(fixture_model_dir() / "MLmodel"),
        backend_store_uri=None,
        read_only=True,
        no_watch=False,
        poll=None,
    )
    assert launch.launch(args) == 0
    app = seen["app"]
    assert type(app) is MltuiApp  # one App class: the model folder is its first page
    assert app.model_dir == fixture_model_dir()
    assert app.read_only is True and app.watch_store is False
    assert app.store is not None and app.store.kind == "file"
