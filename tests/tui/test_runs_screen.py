"""The runs screen: loading, sorting, filtering, marking, columns, deleted runs, the tree."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Static

from mltui.store.errors import StoreError
from mltui.tui.present.runs_view import sort_runs
from mltui.tui.screens.experiments import ExperimentsScreen
from mltui.tui.screens.runs import RunsScreen
from mltui.tui.widgets.runs_table import CUT_LEFT, CUT_RIGHT, MARK, RunsTable
from tests.tui.helpers import fixture_store_path, make_app, press_together, record_notices

# Async tests run on anyio's pytest plugin (installed with Textual's dependencies).
pytestmark = pytest.mark.anyio

STORE = "mlflow-3.17.2-file"
SQLITE = "mlflow-3.17.2-sqlite"
SWEEP = "elasticnet-sweep"


async def settle(pilot) -> None:
    """Wait until every worker (and the workers their answers start) has finished."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


async def open_runs(pilot, *experiments: str, before=None) -> RunsScreen:
    """Push the runs screen of experiments given by name, once they are read.

    `before()` runs just before the push (after the experiments screen has read the store).
    """
    await settle(pilot)
    if before is not None:
        before()
    store = pilot.app.store
    ids = [store.experiment_by_name_or_id(name).experiment_id for name in experiments]
    screen = RunsScreen(ids)
    await pilot.app.push_screen(screen)
    await settle(pilot)
    return screen


def names(screen: RunsScreen) -> list[str]:
    """Run names in table order, as shown (tree markers and indentation stripped)."""
    table = screen.table
    return [table.get_cell(i, "name").text.lstrip(" ▸▾") for i in table.shown_run_ids()]


def cell(screen: RunsScreen, run_id: str, column: str) -> str:
    value = screen.table.get_cell(run_id, column)
    return "" if value is None else value.text


def run_named(screen: RunsScreen, name: str) -> str:
    return next(r.run_id for r in screen.runs.values() if r.run_name == name)


def status_line(screen: RunsScreen) -> str:
    return str(screen.query_one("#runs-status", Static).render())


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in text])


# -- loading and what is shown -----------------------------------------------------------------


@pytest.mark.parametrize("name", [STORE, SQLITE])
async def test_lists_runs_with_varying_params_and_metrics(name):
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        assert sorted(names(screen)) == [f"sweep-{i}" for i in range(6)]
        # Newest first, as MLflow lists runs.
        assert names(screen) == [f"sweep-{i}" for i in reversed(range(6))]
        columns = screen.table.column_keys
        assert columns[:6] == ["name", "status", "start", "duration", "user", "source"]
        assert columns[6:] == [
            "params.alpha",
            "params.l1_ratio",
            "metrics.loss/train",
            "metrics.loss/val",
            "metrics.r2",
            "metrics.rmse",
        ]
        run_id = run_named(screen, "sweep-2")
        # MLflow's SQL store keeps inf as the largest float; its file store keeps inf.
        assert cell(screen, run_id, "metrics.rmse") in ("inf", "1.7977e+308")
        assert cell(screen, run_id, "status") == "✓ FINISHED"
        assert cell(screen, run_named(screen, "sweep-1"), "metrics.loss/val") == "NaN"
        assert "6 runs (6 shown)" in status_line(screen)
        assert SWEEP in str(screen.query_one("Breadcrumbs").render())


@pytest.mark.parametrize("demo", [False, True])
async def test_the_trail_names_the_store_as_the_top_screen_does(demo):
    app = make_app(fixture_store_path(STORE), demo=demo)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        trail = str(screen.query_one("Breadcrumbs").render())
        assert trail.startswith("demo store › " if demo else "mlruns › "), trail


async def test_user_data_is_literal():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, "[bold]x[/bold] markup & escapes")
        assert sorted(names(screen)) == ["[bold]x[/bold]", "esc-␛[31mred␛[0m"]
        rendered = screen.table.get_cell(run_named(screen, "[bold]x[/bold]"), "name").__rich__()
        assert rendered.plain == "[bold]x[/bold]"
        assert not rendered.spans


async def test_running_duration_ticks(monkeypatch):
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, "run statuses")
        running = run_named(screen, "still-running")
        finished = run_named(screen, "finished-run")
        assert cell(screen, running, "status") == "● RUNNING"
        before_running = cell(screen, running, "duration")
        before_finished = cell(screen, finished, "duration")
        now = screen.runs[running].start_time + 3_725_000
        monkeypatch.setattr("mltui.tui.clock.now_ms", lambda: now)
        screen._tick()
        assert cell(screen, running, "duration") == "1h02m" != before_running
        assert cell(screen, finished, "duration") == before_finished


async def test_the_table_keeps_textual_s_running_flag():
    """The table's list of running runs once shadowed MessagePump._running (the flag that its
    message loop runs): with no running run shown, Textual took the table for stopped."""
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        assert not any(run.is_running for run in screen.runs.values())
        assert screen.table.is_running is True


async def test_read_error_keeps_what_was_read(monkeypatch):
    app = make_app(fixture_store_path(STORE))
    seen = record_notices(app)
    store = app.store
    real = store.iter_runs

    def failing(ids, include_deleted=False):
        for batch in real(ids, include_deleted):
            yield batch[:2]
            raise StoreError("The disk went away.")

    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(
            pilot, SWEEP, before=lambda: monkeypatch.setattr(store, "iter_runs", failing)
        )
        assert len(names(screen)) == 2
        assert any("The disk went away." in n for n in seen)
        assert "loading" not in status_line(screen)


async def test_first_batch_shows_while_the_rest_is_read(monkeypatch):
    app = make_app(fixture_store_path(STORE))
    store = app.store
    real = store.iter_runs
    go_on = threading.Event()

    def slow(ids, include_deleted=False):
        runs = [r for batch in real(ids, include_deleted) for r in batch]
        yield runs[:3]
        go_on.wait(10)
        for run in runs[3:]:
            yield [run]

    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        monkeypatch.setattr(store, "iter_runs", slow)
        screen = RunsScreen([store.experiment_by_name_or_id(SWEEP).experiment_id])
        await app.push_screen(screen)
        for _ in range(20):
            await pilot.pause(0.05)
            if screen.table.row_count:
                break
        assert len(names(screen)) == 3
        assert "loading… 3 read" in status_line(screen)
        await pilot.press("down", "t")  # keys work while reading
        assert screen.table.cursor_row == 1 and not screen.tree_view
        go_on.set()
        await settle(pilot)
        assert len(names(screen)) == 6
        assert "loading" not in status_line(screen)


# -- sorting -----------------------------------------------------------------------------------


async def test_sort_by_metric_with_keys_best_first():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        await pilot.press("s")
        await type_text(pilot, "metrics.r2")
        await pilot.press("enter")
        await pilot.pause()
        assert screen.sort_column == "metrics.r2" and not screen.sort_descending
        assert names(screen)[0] == "sweep-4"  # lowest r2
        assert screen.table.header_label("metrics.r2").plain == "metrics.r2 ▲"
        await pilot.press("S")
        assert names(screen)[0] == "sweep-1"  # highest r2
        assert screen.table.header_label("metrics.r2").plain == "metrics.r2 ▼"


async def test_sort_puts_nan_where_mlflow_does():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        screen.sort_by("metrics.loss/val")
        assert names(screen)[-1] == "sweep-1"  # NaN last, ascending
        screen.sort_by("metrics.loss/val")
        assert names(screen)[-1] == "sweep-1"  # and descending
        expected = [
            r.run_name
            for r in app.store.search_runs(
                screen.experiment_ids, order_by=["metrics.`loss/val` DESC"]
            )
        ]
        assert names(screen) == expected


async def test_sort_keeps_cursor_on_the_same_run():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        await pilot.press("down", "down")
        current = screen.current_run_id()
        screen.sort_by("metrics.rmse")
        assert screen.current_run_id() == current


async def test_header_click_sorts():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        x = screen.table.column_spans()[2].x  # after the mark and the name: Status
        await pilot.click(RunsTable, offset=(x + 2, 0))
        await pilot.pause()
        assert screen.sort_column == "status"


async def test_a_click_on_the_cursor_s_run_opens_it():
    from mltui.tui.screens.run import RunScreen

    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        await pilot.click(RunsTable, offset=(20, 2))  # the second run: the cursor goes there
        await pilot.pause()
        run_id = screen.table.shown_run_ids()[1]
        assert screen.current_run_id() == run_id and app.screen is screen
        await pilot.click(RunsTable, offset=(20, 2))
        await settle(pilot)
        assert isinstance(app.screen, RunScreen) and app.screen.run_id == run_id


def screen_line(table: RunsTable, y: int) -> str:
    return table.render_line(y).text


async def test_a_column_cut_by_the_scroll_is_marked_at_the_cut():
    """A sort scrolls the table sideways; the column then half under the pinned name showed
    its tail unmarked (`metrics.log_loss` 0.230169 read as `g_loss 230169`)."""
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        table = screen.table
        spans = {span.key: span for span in table.column_spans()}
        fixed = spans["status"].x  # mark and name, pinned
        start = spans["start"].x  # where the Start column begins
        lines = range(1 + table.row_count)  # the header and every run

        # Scrolled to a column's edge: whole columns, nothing marked.
        table.scroll_to(x=start - fixed, animate=False)
        await pilot.pause()
        assert all(screen_line(table, y)[fixed] != CUT_LEFT for y in lines)
        # Scrolled into the Start column's text: every line marks the cut.
        table.scroll_to(x=start - fixed + 3, animate=False)
        await pilot.pause()
        assert all(screen_line(table, y)[fixed] == CUT_LEFT for y in lines)
        assert screen_line(table, table.row_count + 1).strip() == ""  # no rows: no marks
        # Only padding at the edge (Start's left, or the column before's right): no mark.
        for x in (start - fixed + 1, start - fixed - 1):
            table.scroll_to(x=x, animate=False)
            await pilot.pause()
            assert all(screen_line(table, y)[fixed] != CUT_LEFT for y in lines)

        # The sort: the last column scrolled in as far as the table goes, which cuts
        # metrics.loss/train under the name (`ss/train`, `.0553629`): marked on every line.
        screen.sort_by("metrics.rmse")
        await pilot.pause()
        assert table.scroll_x > 0
        assert all(screen_line(table, y)[fixed] == CUT_LEFT for y in lines)
        assert "metrics.rmse ▲" in screen_line(table, 0)
        # Back at the left, the column cut by the right edge is marked there.
        table.scroll_to(x=0, animate=False)
        await pilot.pause()
        assert all(screen_line(table, y)[79] == CUT_RIGHT for y in lines)
        assert all(screen_line(table, y)[fixed] != CUT_LEFT for y in lines)


async def test_duration_sorts_with_missing_last():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, "run statuses")
        runs = list(screen.runs.values())
        ordered = sort_runs(runs, "duration", descending=True)
        assert ordered[0].run_name == "still-running"  # it has been running for weeks
        no_start = [r for r in ordered if r.start_time is None]
        assert ordered[len(ordered) - len(no_start) :] == no_start


# -- filtering ---------------------------------------------------------------------------------


async def test_filter_narrows_like_mlflow():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        query = "metrics.rmse < 0.7 and params.l1_ratio = '0.5'"
        await pilot.press("slash")
        await type_text(pilot, query)
        await pilot.press("enter")
        await pilot.pause()
        want = {r.run_name for r in app.store.search_runs(screen.experiment_ids, query)}
        assert set(names(screen)) == want == {"sweep-1", "sweep-3"}
        assert screen.focused is screen.table
        assert f"filter: {query}" in status_line(screen)
        assert "6 runs (2 shown)" in status_line(screen)
        # Escape in the bar clears the filter and gives the keys back to the table.
        await pilot.press("slash", "escape")
        assert len(names(screen)) == 6
        assert screen.focused is screen.table


@pytest.mark.parametrize("name", [STORE, SQLITE])
@pytest.mark.parametrize(("dataset", "count"), [("wine-train", 6), ("wine-val", 3)])
async def test_datasets_filter_sees_the_runs_inputs(name, dataset, count):
    """A file store lists runs without their dataset inputs: a `datasets.*` filter reads them
    (it showed "6 runs (0 shown)"), and finds the runs MLflow's search finds."""
    app = make_app(fixture_store_path(name))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        query = f"datasets.name = '{dataset}'"
        await pilot.press("slash")
        await type_text(pilot, query)
        await pilot.press("enter")
        await settle(pilot)
        want = {r.run_name for r in app.store.search_runs(screen.experiment_ids, query)}
        assert len(want) == count
        assert set(names(screen)) == want
        assert f"6 runs ({count} shown)" in status_line(screen)
        assert "reading datasets" not in status_line(screen)


async def test_bad_filter_keeps_the_table_and_says_why():
    app = make_app(fixture_store_path(STORE))
    seen = record_notices(app)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        await pilot.press("slash")
        await type_text(pilot, "metrics.rmse < 0.7")
        await pilot.press("enter")
        await pilot.pause()
        narrowed = names(screen)
        await pilot.press("slash", "end", "space", "<")
        await pilot.press("enter")
        await pilot.pause()
        assert names(screen) == narrowed
        error = str(screen.query_one("#filter-error", Static).render())
        assert "Missing value" in error or "Unexpected" in error
        assert any(error in n for n in seen)
        assert screen.filter_text == "metrics.rmse < 0.7"


async def test_plain_text_searches_names_ids_and_values():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        await pilot.press("slash")
        await type_text(pilot, "SWEEP-4")
        await pilot.press("enter")
        await pilot.pause()
        assert names(screen) == ["sweep-4"]
        run_id = run_named(screen, "sweep-2")
        screen._apply_filter(run_id[:10])
        assert names(screen) == ["sweep-2"]
        screen._apply_filter("saga")  # a param value every run has
        assert len(names(screen)) == 6


async def test_filter_in_tree_shows_ancestors_as_context():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, "nested runs")
        screen._apply_filter("grandchild")
        assert names(screen) == ["parent", "child-a", "grandchild"]
        table = screen.table
        context = [table.shown(i).context for i in table.shown_run_ids()]
        assert context == [True, True, False]
        assert table.get_cell(run_named(screen, "parent"), "status").style == "green dim"
        await pilot.press("t")
        assert names(screen) == ["grandchild"]


# -- marking, copying, opening -----------------------------------------------------------------


async def test_space_marks_runs():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        first, second = screen.table.shown_run_ids()[:2]
        await pilot.press("space", "space")
        assert screen.marked == {first, second}
        assert screen.marked_run_ids() == [first, second]
        assert cell(screen, first, "mark") == MARK
        await pilot.press("up", "space")
        assert screen.marked == {first}
        assert cell(screen, second, "mark") == ""
        screen.sort_by("name")  # marks survive a rebuild
        assert cell(screen, first, "mark") == MARK
        assert "1 marked" in status_line(screen)


async def test_y_copies_the_run_id():
    app = make_app(fixture_store_path(STORE))
    copied = []
    app.copy_to_clipboard = copied.append
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        await pilot.press("y")
        assert copied == [screen.current_run_id()]


async def test_enter_opens_the_run_and_escape_goes_back():
    from mltui.tui.screens.run import RunScreen

    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        await pilot.press("down")
        run_id = screen.current_run_id()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        assert app.screen.run_id == run_id
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ExperimentsScreen)


async def test_enter_on_experiments_opens_runs():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, RunsScreen)
        assert app.screen.table.row_count >= 1


# -- columns, deleted runs, the tree -----------------------------------------------------------


async def test_column_chooser_shows_a_hidden_param_and_hides_a_metric():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        assert "params.solver" not in screen.table.column_keys
        await pilot.press("c")
        await type_text(pilot, "solver")
        await pilot.press("down", "space")
        await pilot.press(*["backspace"] * 6)  # typing goes back to the box
        await type_text(pilot, "loss/train")
        await pilot.press("down", "space", "enter")
        await pilot.pause()
        columns = screen.table.column_keys
        assert "params.solver" in columns
        assert "metrics.loss/train" not in columns
        assert cell(screen, screen.table.shown_run_ids()[0], "params.solver") == "saga"
        screen.sort_by("metrics.rmse")  # the choice lasts for the screen
        assert "params.solver" in screen.table.column_keys


async def down_space_enter(pilot, burst: bool, back_to) -> None:
    """Down, space, Enter in one `pilot.press` call, or in one burst (all queued at once)."""
    keys = ("down", "space", "enter")
    if burst:
        await press_together(pilot, *keys, until=lambda: pilot.app.screen is back_to)
    else:
        await pilot.press(*keys)
    await settle(pilot)


@pytest.mark.parametrize("burst", [False, True])
async def test_column_chooser_keys_typed_fast_toggle_the_highlighted_column(burst):
    """Down, space, Enter arriving together: the space toggles the column Down reached (it
    was typed into the narrowing box, and nothing was toggled)."""
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        before = screen.columns()[1:]
        first = screen.offered_columns()[0]
        assert first in before
        await pilot.press("c")
        await down_space_enter(pilot, burst, back_to=screen)
        assert app.screen is screen
        assert screen.columns()[1:] == [c for c in before if c != first]


async def test_column_chooser_text_and_keys_pasted_at_once_toggle_the_narrowed_column():
    """A name, ↓, space and Enter in one burst (a paste): the space toggles the first column
    the name narrowed the list to. It toggled the first of the whole list (the box's narrowing
    was still queued), hiding a column nobody picked."""
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        before = list(screen.table.column_keys)
        assert "params.solver" not in before
        await pilot.press("c")
        await settle(pilot)
        keys = (*"solver", "down", "space", "enter")
        await press_together(pilot, *keys, until=lambda: pilot.app.screen is screen)
        await settle(pilot)
        assert set(screen.table.column_keys) == {*before, "params.solver"}


@pytest.mark.parametrize("burst", [False, True])
async def test_sort_picker_keys_typed_fast_pick_the_highlighted_column(burst):
    """In the one-choice picker, a space after Down is not typed into the box (there it
    narrowed the list to nothing, and Enter picked nothing)."""
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        await pilot.press("s")  # the picker opens on the current sort column, Start
        await down_space_enter(pilot, burst, back_to=screen)
        assert app.screen is screen
        assert screen.sort_column == "duration"
        # Typing in the list goes on in the box: Down, then "rmse", picks metrics.rmse.
        await pilot.press("s", "down", "down", *"rmse", "enter")
        await settle(pilot)
        assert screen.sort_column == "metrics.rmse"


async def test_column_chooser_escape_changes_nothing():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, SWEEP)
        before = list(screen.table.column_keys)
        await pilot.press("c", "down", "space", "escape")
        await pilot.pause()
        assert screen.table.column_keys == before
        assert app.screen is screen


async def test_deleted_runs_on_a_toggle():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, "run statuses")
        assert "deleted-run" not in names(screen)
        await pilot.press("d")
        assert "deleted-run" in names(screen)
        deleted = run_named(screen, "deleted-run")
        assert "strike" in screen.table.get_cell(deleted, "name").style
        await pilot.press("d")
        assert "deleted-run" not in names(screen)


async def test_tree_collapse_expand_and_flat():
    app = make_app(fixture_store_path(STORE))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_runs(pilot, "nested runs")
        table = screen.table
        assert names(screen) == ["parent", "child-b", "child-a", "grandchild"]
        depths = [table.shown(i).depth for i in table.shown_run_ids()]
        assert depths == [0, 1, 1, 2]
        assert cell(screen, run_named(screen, "parent"), "name") == "▾ parent"
        await pilot.press("left")  # cursor on the parent: fold it
        assert names(screen) == ["parent"]
        assert cell(screen, run_named(screen, "parent"), "name") == "▸ parent"
        await pilot.press("right")
        assert names(screen) == ["parent", "child-b", "child-a", "grandchild"]
        await pilot.press("down", "down", "minus")  # child-a folds its grandchild
        assert names(screen) == ["parent", "child-b", "child-a"]
        assert screen.current_run_id() == run_named(screen, "child-a")
        await pilot.press("down", "left")  # no child below: left goes to the parent
        await pilot.press("plus", "t")
        assert [table.shown(i).depth for i in table.shown_run_ids()] == [0, 0, 0, 0]
        assert "flat" in status_line(screen)
