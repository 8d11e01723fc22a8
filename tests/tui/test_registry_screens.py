"""The registry screens: snapshots, and writes made through the keys on copies of fixture stores,
read back by MLflow itself (MlflowClient)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable

from mltui.store.follow import StoreChanges
from mltui.tui.app import StoreChanged
from mltui.tui.screens.dialogs.confirm_write import ConfirmWriteScreen
from mltui.tui.screens.dialogs.inputs import TagInputScreen, TextInputScreen
from mltui.tui.screens.dialogs.register import RegisterModelScreen
from mltui.tui.screens.dialogs.transition import TransitionScreen
from mltui.tui.screens.dialogs.write_flow import WriteNotice
from mltui.tui.screens.mlmodel import MLmodelScreen
from mltui.tui.screens.model_versions import ModelVersionsScreen
from mltui.tui.screens.registry import RegisteredModelsScreen
from mltui.tui.screens.run import RunScreen
from tests.conftest import untested_schema
from tests.tui.helpers import (
    FIXTURES,
    eventually,
    fixture_store_path,
    make_app,
    press_together,
    record_notices,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # MLflow's stage deprecation
]

STORE = "mlflow-3.17.2-file"


def expected_reading_of(name: str) -> dict:
    import json

    from tests.tui.helpers import FIXTURES

    return json.loads((FIXTURES / name / "expected.json").read_text(encoding="utf-8"))


WRITABLE = ["mlflow-3.17.2-file", "mlflow-3.17.2-sqlite"]
MODEL = "wine-classifier"


# -- helpers -------------------------------------------------------------------------------------
async def settle(pilot) -> None:
    for _ in range(5):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_registry(pilot) -> RegisteredModelsScreen:
    await settle(pilot)
    await pilot.press("M")
    await settle(pilot)
    assert isinstance(pilot.app.screen, RegisteredModelsScreen)
    return pilot.app.screen


def put_cursor(screen, key: str) -> None:
    table = screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(key))


async def open_versions(pilot, name: str = MODEL, version: str | None = None):
    screen = await open_registry(pilot)
    put_cursor(screen, name)
    await pilot.press("enter")
    await settle(pilot)
    versions = pilot.app.screen
    assert isinstance(versions, ModelVersionsScreen)
    if version is not None:
        put_cursor(versions, version)
        await pilot.pause()
    return versions


def tree_digest(folder: Path) -> str:
    """Every file's path and bytes: what `nothing was written` means."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def client_for(path: Path):
    mlflow = pytest.importorskip("mlflow")
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3.13+ refuses file stores otherwise
    uri = f"sqlite:///{path}" if path.suffix == ".db" else path.as_uri()
    mlflow.set_tracking_uri(uri)  # the file registry finds logged models through it
    return mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)


def run_id_named(run_name: str, name: str) -> str:
    runs = json.loads((FIXTURES / name / "expected.json").read_text())["runs"]
    return next(r["run_id"] for r in runs if r["run_name"] == run_name)


def press_then(*keys: str, version: str | None = None, name: str = MODEL):
    """A run_before opening a model's versions, then pressing keys."""

    async def run_before(pilot) -> None:
        await open_versions(pilot, name, version)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


# -- snapshots -----------------------------------------------------------------------------------
def test_registry_list_snapshot(snap_compare):
    async def run_before(pilot) -> None:
        await open_registry(pilot)

    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


def test_versions_snapshot(snap_compare):
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(120, 36), run_before=press_then(version="2"))


def test_versions_snapshot_80x24(snap_compare):
    app = make_app(fixture_store_path("mlflow-3.17.2-sqlite"))
    assert snap_compare(app, terminal_size=(80, 24), run_before=press_then(version="4"))


def test_transition_dialog_snapshot(snap_compare):
    # v4 is in Staging: Production is offered first; `a` ticks "archive the others" (v2).
    app = make_app(fixture_store_path(STORE))
    assert snap_compare(app, terminal_size=(120, 36), run_before=press_then("s", "a", version="4"))


def test_alias_dialog_snapshot(snap_compare):
    app = make_app(fixture_store_path(STORE))
    keys = ("a", "c", "h")
    assert snap_compare(app, terminal_size=(120, 36), run_before=press_then(*keys, version="5"))


def test_confirm_dialog_snapshot(snap_compare, store_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the store is named relative to here
    app = make_app(store_copy(STORE))
    keys = ("s", "a", "enter")
    assert snap_compare(app, terminal_size=(120, 36), run_before=press_then(*keys, version="4"))


# -- what the screens show -----------------------------------------------------------------------
@pytest.mark.parametrize("demo", [False, True])
async def test_the_trail_names_the_store_as_the_top_screen_does(demo):
    app = make_app(fixture_store_path(STORE), demo=demo)
    async with app.run_test(size=(120, 36)) as pilot:
        for screen in (await open_registry(pilot), await open_versions(pilot)):
            trail = str(screen.query_one("Breadcrumbs").render())
            assert trail.startswith("demo store › " if demo else "mlruns › "), trail


async def test_list_shows_aliases_stages_and_opens_versions():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_registry(pilot)
        table = screen.query_one(DataTable)
        assert list(table.rows) == ["churn-model", MODEL]
        row = [c.plain for c in table.get_row(MODEL)]
        assert row[1] == "@challenger v4  @champion v2"
        assert row[2:6] == ["v2", "v4", "v5", "v1"]  # Production, Staging, None, Archived
        versions = await open_versions(pilot)
        table = versions.query_one(DataTable)
        assert list(table.rows) == ["5", "4", "2", "1"]  # v3 was deleted
        assert table.get_row("2")[1].plain == "@champion"
        assert table.get_row("2")[2].plain == "Production"
        assert "train-model-1" in table.get_row("2")[4].plain
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert not isinstance(app.screen, RegisteredModelsScreen)


async def test_models_of_several_workspaces_show_their_workspace(two_workspaces):
    app = make_app(two_workspaces / "mlflow.db")
    async with app.run_test(size=(120, 36)) as pilot:
        table = (await open_registry(pilot)).query_one(DataTable)
        assert [c.label.plain for c in table.columns.values()][-1] == "Workspace"
        assert list(table.rows) == [
            "team-b/b-only",
            "default/churn-model",
            f"default/{MODEL}",
            f"team-b/{MODEL}",
        ]
        row = [c.plain for c in table.get_row(f"team-b/{MODEL}")]
        assert (row[0], row[4], row[-1]) == (MODEL, "v1", "team-b")  # None: v1


async def test_enter_opens_the_source_run_and_m_the_mlmodel():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        versions = await open_versions(pilot, version="2")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        assert app.screen.run_id == run_id_named("train-model-1", STORE)
        await pilot.press("escape")
        assert app.screen is versions
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, MLmodelScreen)
        assert app.screen.model_dir.parent.name == "m-9e1ebe7106004e2e8dca19c4308d212f"


async def test_a_store_without_registry_says_so():
    app = make_app(fixture_store_path("mlflow-1.30.1-file"))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_registry(pilot)
        assert screen.query_one("#registry-empty").display
        assert not screen.query_one(DataTable).display


# -- writes through the keys, read back by MLflow -------------------------------------------------
@pytest.mark.parametrize("fixture", WRITABLE)
async def test_transition_with_archive(fixture, store_copy):
    path = store_copy(fixture)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        versions = await open_versions(pilot, version="4")
        await pilot.press("s")
        assert isinstance(app.screen, TransitionScreen)
        assert app.screen.selected_stage() == "Production"
        await pilot.press("a", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        changes = app.screen.plan.changes
        assert f"{MODEL} version 4: stage Staging → Production" in changes
        assert f"{MODEL} version 2: stage Production → Archived" in changes
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is versions
        table = versions.query_one(DataTable)
        assert table.get_row("4")[2].plain == "Production"
        assert table.get_row("2")[2].plain == "Archived"
    client = client_for(path)
    assert client.get_model_version(MODEL, "4").current_stage == "Production"
    assert client.get_model_version(MODEL, "2").current_stage == "Archived"
    assert client.get_model_version(MODEL, "5").current_stage == "None"


@pytest.mark.parametrize("fixture", WRITABLE)
async def test_set_alias_champion(fixture, store_copy):
    path = store_copy(fixture)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        versions = await open_versions(pilot, version="5")
        await pilot.press("a")
        assert isinstance(app.screen, TextInputScreen)
        await pilot.press(*"champion", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        assert f"{MODEL}: alias @champion version 2 → version 5" in app.screen.plan.changes
        await pilot.press("y")
        await settle(pilot)
        table = versions.query_one(DataTable)
        assert table.get_row("5")[1].plain == "@champion"
        assert table.get_row("2")[1].plain == ""
    client = client_for(path)
    assert str(client.get_model_version_by_alias(MODEL, "champion").version) == "5"
    assert str(client.get_registered_model(MODEL).aliases["challenger"]) == "4"


@pytest.mark.parametrize("fixture", WRITABLE)
async def test_edit_version_description(fixture, store_copy):
    path = store_copy(fixture)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_versions(pilot, version="5")
        await pilot.press("e")
        await pilot.press(*"Shadow-tested", "enter", *"ok", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press("y")
        await settle(pilot)
    client = client_for(path)
    assert client.get_model_version(MODEL, "5").description == "Shadow-tested\nok"


@pytest.mark.parametrize("from_versions", [False, True])
async def test_edit_model_description(from_versions, store_copy):
    path = store_copy(STORE)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        if from_versions:
            await open_versions(pilot)
            await pilot.press("E")
        else:
            put_cursor(await open_registry(pilot), MODEL)
            await pilot.press("e")
        await settle(pilot)
        await pilot.press(*"Gradient boosted. ", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press("y")
        await settle(pilot)
    described = client_for(path).get_registered_model(MODEL).description
    assert described.startswith("Gradient boosted. Predicts")


async def test_a_description_pasted_and_saved_at_once_is_saved_whole(store_copy):
    """Text and ctrl+s arriving in one burst (a paste, then the save key at once): ctrl+s ran
    before the text area had taken the last letters, and the plan showed a cut description."""
    path = store_copy(STORE)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        put_cursor(await open_registry(pilot), MODEL)
        await pilot.press("e")
        await settle(pilot)
        pasted = "Pasted whole. "
        keys = ["space" if c == " " else c for c in pasted]
        await press_together(
            pilot, *keys, "ctrl+s", until=lambda: isinstance(app.screen, ConfirmWriteScreen)
        )
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press("y")
        await settle(pilot)
    described = client_for(path).get_registered_model(MODEL).description
    assert described.startswith(pasted + "Predicts")


@pytest.mark.parametrize("fixture", WRITABLE)
async def test_model_tag_set_and_delete(fixture, store_copy):
    path = store_copy(fixture)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_registry(pilot)
        put_cursor(screen, "churn-model")
        await pilot.press("t", *"stage", "enter", *"prod", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press("y")
        await settle(pilot)
        assert screen.models["churn-model"].tags["stage"] == "prod"
        await pilot.press("x", *"team", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press("y")
        await settle(pilot)
    tags = client_for(path).get_registered_model("churn-model").tags
    assert tags == {"owner": "growth", "stage": "prod"}


async def test_a_half_created_model_is_flagged_and_removed_with_confirmation(store_copy):
    path = store_copy(STORE)
    (path / "models" / "half").mkdir()  # a create killed before its meta.yaml
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_registry(pilot)
        put_cursor(screen, "half")
        await pilot.pause()
        row = screen.query_one(DataTable).get_row("half")
        assert any("incomplete: its folder has no meta.yaml" in str(cell) for cell in row)
        await pilot.press("D")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press("y")
        await settle(pilot)
        # The list is read again after the write (on a loaded machine, after settle returns).
        assert await eventually(pilot, lambda: set(screen.models) == {MODEL, "churn-model"}, 60)
    assert not (path / "models" / "half").exists()
    names = {rm.name for rm in client_for(path).search_registered_models()}
    assert names == {MODEL, "churn-model"}


@pytest.mark.parametrize("fixture", WRITABLE)
async def test_register_a_runs_model(fixture, store_copy):
    path = store_copy(fixture)
    run_id = run_id_named("train-model-0", fixture)
    app = make_app(path)
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await app.push_screen(RunScreen(run_id))
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, RegisterModelScreen)
        await pilot.press(*"fresh-model", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        assert "new registered model 'fresh-model', created now" in app.screen.plan.changes
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        assert any("version 1" in n for n in seen)
    client = client_for(path)
    (mv,) = client.search_model_versions("name = 'fresh-model'")
    assert str(mv.version) == "1" and mv.run_id == run_id
    assert mv.source.startswith("models:/m-")


async def test_register_down_completes_an_existing_name(store_copy):
    path = store_copy(STORE)
    run_id = run_id_named("train-model-0", STORE)
    existing = sorted(m["name"] for m in expected_reading_of(STORE)["registered_models"])
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await app.push_screen(RunScreen(run_id))
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        await pilot.press(*existing[0][:3], "down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        # A prefix plus ↓ registers under the existing name, not a new model named by the prefix.
        assert not any("new registered model" in c for c in app.screen.plan.changes)
        assert any(existing[0] in c for c in app.screen.plan.changes)


async def test_cancel_writes_nothing(store_copy):
    path = store_copy(STORE)
    before = tree_digest(path)
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        versions = await open_versions(pilot, version="4")
        await pilot.press("s", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmWriteScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is versions
    assert tree_digest(path) == before


# -- writes refused: said before anything is typed ------------------------------------------------
def read_only_app(path: Path):
    return make_app(path, read_only=True)


def unwritable_database_app(path: Path):
    # Root passes os.access; the writer still takes a file with no write bit as not writable.
    path.chmod(0o444)
    return make_app(path)


def untested_schema_app(path: Path):
    untested_schema(path)
    return make_app(path)


READ_ONLY = ("Read-only: The store was opened read-only", "The store was opened read-only")
UNTESTED = ("Read-only: Not writing to mlflow.db: ", "Not writing to mlflow.db: ")
#: (fixture, how the app is made, how the notice under the table and a key's refusal begin);
#: a file name keeps its case at the start of a sentence.
REFUSED = [
    ("mlflow-3.17.2-file", read_only_app, *READ_ONLY),
    ("mlflow-3.17.2-sqlite", read_only_app, *READ_ONLY),
    ("mlflow-3.17.2-sqlite", unwritable_database_app, "Read-only: /", "/"),
    ("mlflow-3.17.2-sqlite", untested_schema_app, *UNTESTED),
]


def notice_of(screen) -> str | None:
    notice = screen.query_one(WriteNotice)
    return notice.content.plain if notice.display else None


@pytest.mark.parametrize(
    ("fixture", "make", "notice", "refusal"), REFUSED, ids=lambda v: getattr(v, "__name__", None)
)
async def test_refused_writes_are_said_before_a_key_and_write_nothing(
    fixture, make, notice, refusal, store_copy
):
    path = store_copy(fixture)
    folder = path if path.is_dir() else path.parent
    app = make(path)
    before = tree_digest(folder)
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_registry(pilot)
        put_cursor(screen, MODEL)
        assert await eventually(pilot, lambda: notice_of(screen) is not None)
        shown = notice_of(screen)
        assert shown.startswith(notice) and "nothing was written" not in shown, shown
        # The footer still lists the write keys, dimmed; pressing one says why, opens nothing.
        footer = screen.active_bindings
        assert [footer[k].enabled for k in "etx"] == [False, False, False]
        assert footer["t"].binding.description == "Set tag"
        for key in "etx":
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen, key
        await pilot.press("enter")
        await settle(pilot)
        versions = app.screen
        assert isinstance(versions, ModelVersionsScreen)
        put_cursor(versions, "4")
        assert await eventually(pilot, lambda: notice_of(versions) == shown)
        for key in "sadeEtx":
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is versions, key
        await app.push_screen(RunScreen(run_id_named("train-model-0", fixture)))
        await settle(pilot)
        await pilot.press("R")
        assert await eventually(pilot, lambda: isinstance(app.screen, RunScreen))
    refusals = [n for n in seen if n.endswith("nothing was written.")]
    assert len(refusals) == 11, seen  # e t x, s a d e E t x, R
    assert all(n.startswith(refusal) for n in refusals), refusals
    assert tree_digest(folder) == before


async def test_the_notice_follows_the_store(store_copy):
    """MLflow upgrading the database while the screen is open: the notice comes, then goes."""
    path = store_copy("mlflow-3.17.2-sqlite")
    app = make_app(path)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_registry(pilot)
        put_cursor(screen, MODEL)
        assert notice_of(screen) is None
        assert screen.active_bindings["t"].enabled
        shutil.copyfile(path, path.with_name("tested.db"))
        untested_schema(path)
        app.post_message(StoreChanged(StoreChanges(registry=True)))
        assert await eventually(pilot, lambda: notice_of(screen) is not None)
        assert notice_of(screen).startswith(UNTESTED[0])
        assert not screen.active_bindings["t"].enabled
        os.replace(path.with_name("tested.db"), path)
        app.post_message(StoreChanged(StoreChanges()))
        assert await eventually(pilot, lambda: notice_of(screen) is None)
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TagInputScreen)


def test_read_only_notice_snapshot(snap_compare):
    async def run_before(pilot) -> None:
        screen = await open_registry(pilot)
        assert await eventually(pilot, lambda: notice_of(screen) is not None)

    app = make_app(fixture_store_path(STORE), read_only=True)
    assert snap_compare(app, terminal_size=(120, 36), run_before=run_before)


async def test_what_the_writer_refuses_is_shown(store_copy):
    path = store_copy(STORE)
    before = tree_digest(path)
    app = make_app(path)
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        versions = await open_versions(pilot, version="5")
        await pilot.press("a", *"latest", "enter")
        await settle(pilot)
        assert app.screen is versions
        assert any("reserved" in n for n in seen)
    assert tree_digest(path) == before
