"""The run screen: header, tabs, metric summaries, tags and note, artifacts, datasets, models."""

from __future__ import annotations

import json
import math
import os

import anyio
import pytest
from textual.widgets import DataTable, Markdown, TabbedContent, Tree

from mltui.tui.screens.run import RunScreen
from mltui.tui.widgets.artifact_browser import ArtifactBrowser
from mltui.tui.widgets.runs_table import STATUS_LOOK
from tests.tui.helpers import FIXTURES, eventually, fixture_store_path, make_app, screen_text

# Async tests run on anyio's pytest plugin (installed with Textual's dependencies).
pytestmark = pytest.mark.anyio

STORE = "mlflow-3.17.2-file"
EDGE_RUN = "[bold]x[/bold]"


def expected(name: str = STORE) -> dict:
    return json.loads((FIXTURES / name / "expected.json").read_text())


def run_id_named(run_name: str, name: str = STORE) -> str:
    return next(r["run_id"] for r in expected(name)["runs"] if r["run_name"] == run_name)


async def settle(pilot) -> None:
    """Wait until every worker (and the workers their answers start) has finished."""
    for _ in range(4):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_run(pilot, run_id: str) -> RunScreen:
    await settle(pilot)
    screen = RunScreen(run_id)
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


def cell(table: DataTable, row: str, column: str) -> str:
    return table.get_cell(row, column).plain


async def test_tabs_switch_with_numbers_and_tab():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN))
        tabs = screen.query_one(TabbedContent)

        async def shows(pane: str, focused: str | None = None) -> bool:
            """Wait for `pane` (and the widget `focused`): a busy machine switches late."""
            return await eventually(
                pilot,
                lambda: (
                    tabs.active == pane
                    and (focused is None or screen.focused is screen.query_one(focused))
                ),
            )

        assert await shows("params", "#params-table")
        await pilot.press("2")
        assert await shows("metrics", "#metrics-table")
        await pilot.press("tab")
        assert await shows("tags")
        await pilot.press("shift+tab", "shift+tab")
        assert await shows("params")
        await pilot.press("shift+tab")
        assert await shows("models")
        await pilot.press("4")
        assert await shows("artifacts", "#artifact-tree")
        for key, pane in zip("156", ["params", "datasets", "models"], strict=True):
            await pilot.press(key)
            assert await shows(pane), pane


async def test_params_sorted_and_literal():
    app = make_app(fixture_store_path(STORE))
    want = next(r for r in expected()["runs"] if r["run_name"] == EDGE_RUN)["params"]
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN))
        table = screen.query_one("#params-table", DataTable)
        keys = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
        assert keys == sorted(want)
        assert cell(table, "markup", "value") == "[red]"


async def test_metrics_match_mlflow_history():
    """Latest from the run; min, max (NaN ignored), steps and points from MLflow's history."""
    data = expected()
    run_id = run_id_named(EDGE_RUN)
    history = data["metric_history"][run_id]
    latest = next(r for r in data["runs"] if r["run_id"] == run_id)["metrics"]

    def number(value) -> float:
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(value, value)

    def shown(value: float) -> str:
        from mltui.tui.text import format_value

        return format_value(value)

    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id)
        table = screen.query_one("#metrics-table", DataTable)
        assert table.row_count == len(history)
        for key, points in history.items():
            values = [number(v) for _, _, v in points]
            finite = [v for v in values if not math.isnan(v)]
            assert cell(table, key, "latest") == shown(number(latest[key])), key
            assert cell(table, key, "min") == (shown(min(finite)) if finite else "NaN"), key
            assert cell(table, key, "max") == (shown(max(finite)) if finite else "NaN"), key
            assert cell(table, key, "steps") == str(len({s for s, _, _ in points})), key
            assert cell(table, key, "points") == str(len(points)), key
        # The awkward cases, spelled out.
        assert cell(table, "nan", "min") == "NaN"
        assert cell(table, "with_inf", "max") == "inf"
        assert cell(table, "neg_inf", "min") == "-inf"
        assert cell(table, "out_of_order", "latest") == "0.5"


async def test_run_named_like_markup_shows_literally():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_run(pilot, run_id_named(EDGE_RUN))
        text = screen_text(app)
        header = text.splitlines()[:3]
        finished = f"{STATUS_LOOK['FINISHED'][0]} FINISHED"
        assert any(f"[bold]x[/bold]   {finished}" in line for line in header), header
        assert "[bold]x[/bold] markup & escapes › [bold]x[/bold]" in text
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        assert "␛[31mred␛[0m text" in text
        assert "\x1b" not in text


async def test_escape_codes_in_run_name_are_visible():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_run(pilot, run_id_named("esc-\x1b[31mred\x1b[0m"))
        text = screen_text(app)
        assert "esc-␛[31mred␛[0m" in text
        assert "\x1b" not in text


async def test_tags_grouped_and_note_rendered():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN))
        await pilot.press("3")
        await pilot.pause()
        text = screen_text(app)
        user_at = text.index("Tags (")
        system_at = text.index("System tags (mlflow.*)")
        assert user_at < text.index(" markup ", user_at) < system_at
        assert system_at < text.index("mlflow.user")
        assert "mlflow.note.content" not in text
        note = screen.query_one("#run-note", Markdown)
        assert note.display
        assert "Edge cases" in text  # the note's heading, rendered


async def test_metric_summaries_arrive_after_the_rest(monkeypatch):
    """The run shows before any history is read; summaries fill in afterwards."""
    app = make_app(fixture_store_path(STORE))
    calls: list[str] = []
    original = app.store.metric_history

    def slow_history(run_id, key):
        calls.append(key)
        return original(run_id, key)

    monkeypatch.setattr(app.store, "metric_history", slow_history)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN))
        assert sorted(calls) == sorted(screen.details.run.metrics)


async def _artifacts(pilot, screen: RunScreen) -> Tree:
    await pilot.press("4")
    await settle(pilot)
    return screen.query_one("#artifact-tree", Tree)


def _node(tree: Tree, path: str):
    def walk(node):
        for child in node.children:
            if child.data is not None and child.data.entry.path == path:
                return child
            found = walk(child)
            if found is not None:
                return found
        return None

    return walk(tree.root)


async def test_artifact_preview_of_text_file():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN))
        tree = await _artifacts(pilot, screen)
        top = {child.data.entry.path for child in tree.root.children}
        assert top == {"binary", "deep", "notes.txt"}
        tree.move_cursor(_node(tree, "notes.txt"))
        await settle(pilot)
        assert "plain text artifact" in screen_text(app)


async def test_artifact_binary_file_is_not_shown():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN))
        tree = await _artifacts(pilot, screen)
        tree.move_cursor(_node(tree, "binary"))
        await pilot.press("enter")  # expands the folder, listing it in a worker
        await settle(pilot)
        node = _node(tree, "binary/blob.bin")
        assert node is not None
        tree.move_cursor(node)
        await settle(pilot)
        text = screen_text(app)
        assert "binary file, 262 bytes" in text
        assert "PNG" not in text


async def test_artifact_tree_loads_folders_lazily():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN))
        tree = await _artifacts(pilot, screen)
        assert _node(tree, "deep/nested") is None
        browser = screen.query_one(ArtifactBrowser)
        browser.reveal("deep/nested/folder/readme.md")
        await settle(pilot)
        await settle(pilot)
        assert tree.cursor_node is _node(tree, "deep/nested/folder/readme.md")
        await settle(pilot)
        assert "# nested" in screen_text(app)


async def test_datasets_tab():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named("sweep-0"))
        await pilot.press("5")
        await pilot.pause()
        table = screen.query_one("#datasets-table", DataTable)
        rows = {cell(table, str(i), "name"): i for i in range(table.row_count)}
        assert set(rows) == {"wine-train", "wine-val"}
        train = str(rows["wine-train"])
        assert cell(table, train, "context") == "training"
        assert cell(table, train, "source") == "https://example.com/wine/train.csv"
        assert cell(table, train, "schema").startswith("2 cols: fixed_acidity")
        assert "validation (split=val)" in cell(table, str(rows["wine-val"]), "context")


async def test_models_tab_mlflow3_opens_the_logged_models_mlmodel():
    data = expected()
    run_id = run_id_named("train-model-0")
    model_id = next(m["model_id"] for m in data["logged_models"] if m["source_run_id"] == run_id)
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id)
        await pilot.press("6")
        table = screen.query_one("#models-table", DataTable)
        assert table.row_count == 1
        assert cell(table, "0", "id") == model_id
        assert cell(table, "0", "origin").startswith("output, step")
        await pilot.press("enter")
        await settle(pilot)
        # Enter opens the model's MLmodel view; Escape comes back to the run.
        assert type(app.screen).__name__ == "MLmodelScreen"
        assert model_id in str(app.screen.model_dir)
        assert (app.screen.model_dir / "MLmodel").is_file()
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


@pytest.mark.parametrize("name", [STORE, "mlflow-3.17.2-sqlite"])
async def test_models_tab_shows_the_flavors_in_a_logged_models_mlmodel(name):
    """Type / flavors: the logged model's model_type ("adder" in the fixtures), then the
    flavors its MLmodel names (the column showed model_type alone)."""
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named("train-model-0", name))
        table = screen.query_one("#models-table", DataTable)
        assert cell(table, "0", "kind") == "adder · python_function"


async def test_models_tab_flavors_of_a_logged_model_without_a_type(tmp_path):
    """MLflow 3's log_model leaves model_type null (as in the demo store, which MLflow's
    client reads back in test_demo_store.py): the column was empty for every such model."""
    from mltui.store.demo import build_demo_store

    app = make_app(build_demo_store(tmp_path))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        model = next(m for m in app.store.logged_models() if m.source_run_id)
        assert model.model_type is None
        screen = await open_run(pilot, model.source_run_id)
        table = screen.query_one("#models-table", DataTable)
        kinds = [cell(table, key.value, "kind") for key in table.rows]
        assert kinds and all(kinds), kinds
        assert "python_function" in kinds[0] and "sklearn" in kinds[0], kinds


async def test_models_tab_mlflow2_history_opens_the_mlmodel():
    name = "mlflow-2.22.5-file"
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named("train-model-1", name))
        await pilot.press("6")
        table = screen.query_one("#models-table", DataTable)
        assert table.row_count == 1
        assert cell(table, "0", "origin") == "history"
        assert cell(table, "0", "name") == "model"
        assert "python_function" in cell(table, "0", "kind")
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "MLmodelScreen"
        assert app.screen.model_dir.name == "model"
        assert (app.screen.model_dir / "MLmodel").is_file()


async def test_parent_run_in_header_and_p_opens_it():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_run(pilot, run_id_named("child-a"))
        parent_id = run_id_named("parent")
        assert f"parent ({parent_id})" in screen_text(app)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == parent_id


async def test_running_run_duration_ticks(monkeypatch):
    from tests.tui.conftest import FIXED_NOW_MS

    run = next(r for r in expected()["runs"] if r["run_name"] == "still-running")
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run["run_id"])
        assert f"{STATUS_LOOK['RUNNING'][0]} RUNNING" in screen_text(app)
        assert "(running)" in screen_text(app)
        monkeypatch.setattr("mltui.tui.clock.now_ms", lambda: FIXED_NOW_MS + 3_600_000)
        before = screen_text(app)
        screen.render_header()
        await pilot.pause()
        assert screen_text(app) != before


async def test_escape_goes_back_and_y_copies_id():
    app = make_app(fixture_store_path(STORE))
    copied: list[str] = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(120, 36)) as pilot:
        below = app.screen
        run_id = run_id_named(EDGE_RUN)
        await open_run(pilot, run_id)
        await pilot.press("y")
        assert copied == [run_id]
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is below


async def test_unknown_run_says_so():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_run(pilot, "0" * 32)
        assert f"No run {'0' * 32} in this store." in screen_text(app)


@pytest.mark.parametrize("name", ["mlflow-3.17.2-sqlite", "mlflow-2.22.5-file"])
async def test_other_stores_show_the_same_run(name):
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN, name))
        history = expected(name)["metric_history"][run_id_named(EDGE_RUN, name)]
        table = screen.query_one("#metrics-table", DataTable)
        assert cell(table, "repeat", "points") == str(len(history["repeat"]))
        tree = await _artifacts(pilot, screen)
        assert {child.data.entry.path for child in tree.root.children} == {
            "binary",
            "deep",
            "notes.txt",
        }


def _run_folder(mlruns, run_id: str):
    return next(p for p in mlruns.glob(f"*/{run_id}") if (p / "meta.yaml").exists())


async def test_remote_artifact_uri_says_it_cannot_be_browsed(store_copy):
    mlruns = store_copy(STORE)
    run_id = run_id_named(EDGE_RUN)
    meta = _run_folder(mlruns, run_id) / "meta.yaml"
    text = meta.read_text()
    recorded = next(line for line in text.splitlines() if line.startswith("artifact_uri:"))
    meta.write_text(text.replace(recorded, "artifact_uri: s3://bucket/some/where/artifacts"))
    app = make_app(mlruns)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id)
        tree = await _artifacts(pilot, screen)
        assert not tree.root.children
        text = screen_text(app)
        assert "stored remotely (s3:)" in text
        assert "cannot be browsed locally" in text


async def test_fifo_artifact_preview_ends_and_q_exits(store_copy):
    """A FIFO among the artifacts: the preview says what it is, and `q` still quits."""
    mlruns = store_copy(STORE)
    run_id = run_id_named(EDGE_RUN)
    fifo = _run_folder(mlruns, run_id) / "artifacts" / "pipe"
    os.mkfifo(fifo)
    app = make_app(mlruns)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id)
        tree = await _artifacts(pilot, screen)
        tree.move_cursor(_node(tree, "pipe"))
        try:
            with anyio.fail_after(60):  # a blocked preview fails the test, not hangs it
                await settle(pilot)
        except TimeoutError:
            # A reader blocked on the FIFO is set free by a writer opening it, so that the
            # app can shut down and the failure be reported.
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            raise
        assert "not a regular file (a FIFO)" in screen_text(app)
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0


async def test_note_with_escape_codes_cannot_drive_the_terminal(store_copy):
    mlruns = store_copy(STORE)
    run_id = run_id_named(EDGE_RUN)
    note = _run_folder(mlruns, run_id) / "tags" / "mlflow.note.content"
    note.write_text("# Title \x1b[2J\x1b]0;pwned\x07\n\nbody \x1b[31mred\x1b[0m\r\nnext line\n")
    app = make_app(mlruns)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_run(pilot, run_id)
        await pilot.press("3")
        await settle(pilot)
        text = screen_text(app)
        assert "body ␛[31mred␛[0m" in text
        assert "Title ␛[2J␛]0;pwned\\x07" in text
        assert "\x1b" not in text and "\x07" not in text


async def test_reload_keeps_the_tab_and_reads_again():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN))
        await pilot.press("2")
        first = screen.details
        await pilot.press("r")
        await settle(pilot)
        assert screen.details is not first
        assert screen.query_one(TabbedContent).active == "metrics"
        assert screen.query_one("#metrics-table", DataTable).row_count == len(first.run.metrics)


async def test_small_terminal_shows_header_tabs_and_footer():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(pilot, run_id_named("child-a"))
        text = screen_text(app).splitlines()
        assert "Parent" in text[6]
        assert "1 Params" in text[7]
        assert "esc Back" in text[-1]
        await pilot.press("4")
        await settle(pilot)
        assert "child a" in screen_text(app)  # child.txt, previewed as the first entry
        assert screen.query_one(TabbedContent).active == "artifacts"


async def test_running_run_is_read_again_while_followed(store_copy):
    mlruns = store_copy(STORE)
    run_id = run_id_named("still-running")
    app = make_app(mlruns)
    app.watch_store, app.poll_seconds = True, 0.2
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id)
        table = screen.query_one("#metrics-table", DataTable)
        assert cell(table, "epoch_loss", "points") == "12"
        metric = _run_folder(mlruns, run_id) / "metrics" / "epoch_loss"
        with metric.open("a") as fh:
            fh.write("1795417513999 0.01 12\n")
        assert await eventually(pilot, lambda: cell(table, "epoch_loss", "points") == "13")
        assert cell(table, "epoch_loss", "latest") == "0.01"


async def test_g_charts_the_metric_under_the_cursor():
    run_id = run_id_named("sweep-0")
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await open_run(pilot, run_id)
        await pilot.press("2", "down", "g")
        await settle(pilot)
        chart = app.screen
        assert type(chart).__name__ == "ChartScreen"
        keys = sorted(next(r for r in expected()["runs"] if r["run_id"] == run_id)["metrics"])
        assert chart.keys == [keys[1]]


async def test_enter_on_an_mlmodel_file_in_the_artifacts_opens_the_model_view():
    name = "mlflow-2.22.5-file"
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named("train-model-1", name))
        await pilot.press("4")
        await settle(pilot)
        browser = screen.query_one("#artifact-browser")
        browser.reveal("model/MLmodel")
        await settle(pilot)
        browser.focus_tree()
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "MLmodelScreen"
        assert app.screen.model_dir.name == "model"


@pytest.mark.parametrize("name", [STORE, "mlflow-3.17.2-sqlite"])
async def test_every_tab_follows_a_running_run(store_copy, name):
    """Each reading of a followed running run reaches every tab the same way: a param, a tag and
    a metric MLflow's client logs to it appear on the Params, Tags and Metrics tabs."""
    from tests.tui.test_live import run_mlflow

    path = store_copy(name)
    run_id = run_id_named("still-running", name)
    app = make_app(path)
    app.watch_store, app.poll_seconds = True, 0.2
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id)
        params = screen.query_one("#params-table", DataTable)
        metrics = screen.query_one("#metrics-table", DataTable)
        assert "late_param" not in params.rows and "late_metric" not in metrics.rows
        code = (
            "from mlflow import MlflowClient; c = MlflowClient(); "
            f"c.log_param({run_id!r}, 'late_param', 'p1'); "
            f"c.set_tag({run_id!r}, 'late_tag', 't1'); "
            f"c.log_metric({run_id!r}, 'late_metric', 0.5, step=3)"
        )
        await anyio.to_thread.run_sync(run_mlflow, code, path)
        assert await eventually(pilot, lambda: "late_param" in params.rows, 60)
        assert await eventually(pilot, lambda: "late_metric" in metrics.rows)
        assert await eventually(pilot, lambda: cell(metrics, "late_metric", "points") == "1")
        assert cell(params, "late_param", "value") == "p1"
        await pilot.press("3")
        assert await eventually(pilot, lambda: "late_tag" in screen_text(app))


def test_number_keys_and_labels_follow_the_list_of_tabs():
    """A tab is added by adding its class to RUN_TABS: its number key and label follow."""
    from mltui.tui.screens.run import RUN_TABS

    labels = [(t.PANE, f"{i} {t.LABEL}") for i, t in enumerate(RUN_TABS, 1)]
    assert list(RunScreen.TABS) == labels
    keys = {b.key: b.action for b in RunScreen.BINDINGS if b.action.startswith("show_tab")}
    assert keys == {str(i): f"show_tab('{t.PANE}')" for i, t in enumerate(RUN_TABS, 1)}


async def test_an_optional_tab_without_content_stays_hidden_and_its_key_does_nothing():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, run_id_named(EDGE_RUN))
        tabs = screen.query_one(TabbedContent)
        assert tabs.get_tab("evaluation").has_class("-hidden")
        await pilot.press("2")
        assert await eventually(pilot, lambda: tabs.active == "metrics")
        await pilot.press("7")
        await settle(pilot)
        assert tabs.active == "metrics"


async def test_an_older_reading_of_the_run_page_never_replaces_a_newer_one(tmp_path):
    """A reading taken before MLflow rewrote a tag, still under way when the page reads again
    (as following a change does), ends last: the page keeps the newer reading. (A thread
    worker cannot be stopped, so the older answer arrived and replaced the newer one for good.)
    The first reading is held, after it read the run, until the second has been shown."""
    import threading

    from mlflow import MlflowClient

    from tests.conftest import copy_fixture

    fixture = "mlflow-3.18.0-sqlite"
    db = copy_fixture(fixture, tmp_path) / "mlflow.db"
    run_id = run_id_named("sweep-0", fixture)
    app = make_app(db)
    store = app.store
    armed, held, gate = threading.Event(), threading.Event(), threading.Event()
    experiment = store.experiment

    def held_once(experiment_id):  # the page reads the run, then its experiment
        if armed.is_set() and not held.is_set():
            held.set()
            gate.wait(60)
        return experiment(experiment_id)

    store.experiment = held_once

    def tag() -> str | None:
        return screen.details.run.tags.get("sweep.index") if screen.details else None

    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await settle(pilot)
            screen = RunScreen(run_id)
            armed.set()
            await app.push_screen(screen)
            assert await eventually(pilot, held.is_set, 60)
            MlflowClient(tracking_uri=f"sqlite:///{db}").set_tag(run_id, "sweep.index", "newer")
            screen.load()
            assert await eventually(pilot, lambda: tag() == "newer", 60)
            gate.set()
            await settle(pilot)
            assert tag() == "newer"
    finally:
        gate.set()
