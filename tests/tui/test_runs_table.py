"""The runs table on its own: many rows, the cursor, the keys, the mouse, the pinned columns."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pytest
from textual.app import App, ComposeResult
from textual.scroll_view import ScrollView

from mltui.store.entities import Metric, Run
from mltui.tui.present.runs_view import RunRow
from mltui.tui.widgets.runs_table import MARK_COLUMN, RunsTable
from tests.tui.helpers import FIXED_NOW_MS

pytestmark = pytest.mark.anyio

COLUMNS = ["name", "status", "start", "duration", "params.alpha", "metrics.loss", "tags.note"]
SIZE = (60, 20)  # a header, 17 rows and a scrollbar in view


def make_run(i: int, status: str = "FINISHED") -> Run:
    start = FIXED_NOW_MS - 3_600_000 + i
    return Run(
        run_id=f"{i:032x}",
        experiment_id="0",
        run_name=f"run-{i}",
        status=status,
        start_time=start,
        end_time=None if status == "RUNNING" else start + 59_000,
        lifecycle_stage="active",
        artifact_uri="",
        user_id="me",
        params={"alpha": str(i % 7)},
        metrics={"loss": Metric("loss", 1 / (i + 1), start, 0)},
        tags={"note": "a fairly long note that widens its column"},
    )


def rows_of(runs: list[Run]) -> list[RunRow]:
    return [RunRow(run) for run in runs]


class TableApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def compose(self) -> ComposeResult:
        yield RunsTable(id="runs-table")

    def on_runs_table_row_highlighted(self, message: RunsTable.RowHighlighted) -> None:
        self.messages.append(("highlighted", message.index, message.run_id))

    def on_runs_table_row_selected(self, message: RunsTable.RowSelected) -> None:
        self.messages.append(("selected", message.index, message.run_id))

    def on_runs_table_header_selected(self, message: RunsTable.HeaderSelected) -> None:
        self.messages.append(("header", message.column))


async def table_of(pilot, runs: list[Run]) -> RunsTable:
    table = pilot.app.query_one(RunsTable)
    table.show(rows_of(runs), COLUMNS, sort_column="start", descending=True)
    await pilot.pause()
    return table


def line(table: RunsTable, y: int) -> str:
    return table.render_line(y).text


async def test_ten_thousand_runs_set_at_once_and_the_page_keys():
    runs = [make_run(i) for i in range(10_000)]
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await table_of(pilot, runs)
        assert table.row_count == 10_000
        assert "run-0 " in line(table, 1)
        page = table.scrollable_content_region.height - 1  # rows in view, below the header
        await pilot.press("pagedown")
        assert table.cursor_row == page
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.current_run_id() == runs[-1].run_id
        # The last run is drawn on the last line of the view, under the same header.
        assert "run-9999 " in line(table, page)
        assert "Name" in line(table, 0)
        await pilot.press("pageup", "up")
        assert table.cursor_row == 9_999 - page - 1
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert table.cursor_row == 0 and table.scroll_y == 0
        assert "run-0 " in line(table, 1)


async def test_a_new_show_keeps_the_cursor_on_its_run_or_its_place():
    runs = [make_run(i) for i in range(40)]
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await table_of(pilot, runs)
        table.move_cursor(row=5)
        kept = table.current_run_id()
        # Live update: three new runs come first; the cursor stays on the same run.
        newer = [make_run(100 + i) for i in range(3)]
        table.show(rows_of(newer + runs), COLUMNS, keep=kept, keep_index=5)
        assert table.current_run_id() == kept and table.cursor_row == 8
        # The run is gone: the cursor stays at the same place.
        table.show(rows_of(runs[:5] + runs[6:]), COLUMNS, keep=kept, keep_index=8)
        assert table.cursor_row == 8
        await pilot.pause()
        assert app.messages[-1] == ("highlighted", 8, runs[9].run_id)


async def test_the_name_stays_put_while_the_rest_scrolls_sideways():
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await table_of(pilot, [make_run(i) for i in range(5)])
        spans = {span.key: span for span in table.column_spans()}
        pinned = spans["status"].x  # the mark and the name
        before = line(table, 1)
        await pilot.press("right", "right")  # a flat table: right scrolls sideways
        await pilot.pause()
        assert table.scroll_x > 0
        after = line(table, 1)
        assert after[:pinned] == before[:pinned] and "run-0" in after[:pinned]
        assert after[pinned:] != before[pinned:]
        table.tree_keys = True  # in a tree, left and right are the screen's (fold, unfold)
        await pilot.press("left")
        await pilot.pause()
        assert table.scroll_x > 0
        table.tree_keys = False
        await pilot.press("home")
        await pilot.pause()
        assert table.scroll_x == 0


async def test_clicks_on_a_header_and_on_a_row():
    runs = [make_run(i) for i in range(5)]
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await table_of(pilot, runs)
        x = table.column_spans()[2].x + 1  # the Status header
        await pilot.click(RunsTable, offset=(x, 0))
        await pilot.click(RunsTable, offset=(1, 0))  # the marks' header
        await pilot.pause()
        assert [m for m in app.messages if m[0] == "header"] == [
            ("header", "status"),
            ("header", MARK_COLUMN),
        ]
        assert table.cursor_row == 0  # a header click leaves the cursor where it is
        await pilot.click(RunsTable, offset=(x, 3))
        await pilot.pause()
        assert table.cursor_row == 2
        assert not [m for m in app.messages if m[0] == "selected"]
        await pilot.click(RunsTable, offset=(x, 3))  # again on the cursor's row: selected
        await pilot.pause()
        assert [m for m in app.messages if m[0] == "selected"] == [("selected", 2, runs[2].run_id)]


async def test_the_mouse_shows_the_row_under_it_until_a_key_is_pressed():
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await table_of(pilot, [make_run(i) for i in range(5)])
        plain = table.render_line(3)
        await pilot.hover(RunsTable, offset=(20, 3))
        await pilot.pause()
        hovered = table.render_line(3)
        assert hovered.text == plain.text and hovered != plain  # other colours, same text
        await pilot.press("down")
        await pilot.pause()
        assert table.render_line(3) == plain


async def test_marks_and_a_running_duration_that_outgrows_its_column(monkeypatch):
    runs = [make_run(0, "RUNNING"), make_run(1)]
    app = TableApp()
    async with app.run_test(size=(120, 10)) as pilot:
        table = await table_of(pilot, runs)
        table.set_marked(runs[1].run_id, True)
        assert table.get_cell(runs[1].run_id, MARK_COLUMN) is not None
        assert line(table, 2).lstrip().startswith("●")
        width = {s.key: s.width for s in table.column_spans()}["duration"]
        # Started an hour before now; 10,000 days on, wider than the "Duration" header.
        later = FIXED_NOW_MS + 10_000 * 86_400_000
        monkeypatch.setattr("mltui.tui.clock.now_ms", lambda: later)
        table.tick()
        await pilot.pause()
        assert table.get_cell(runs[0].run_id, "duration").text == "10000d01h"
        assert {s.key: s.width for s in table.column_spans()}["duration"] == width + 1
        assert " 10000d01h " in line(table, 1)


def own_private_names(cls: type) -> set[str]:
    """The private names a class defines: methods and attributes in its body, `self._x = ...`."""
    names = {name for name in vars(cls) if name.startswith("_") and not name.startswith("__")}
    for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(cls)))):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(
                target.attr
                for target in targets
                if isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and target.attr.startswith("_")
            )
    return names


async def test_the_table_keeps_textual_s_own_names():
    """The table's private names keep clear of Textual's (its list of running runs once
    shadowed MessagePump._running, and Textual took the table for stopped)."""

    class Plain(ScrollView):
        """What Textual gives every ScrollView subclass."""

    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = await table_of(pilot, [make_run(i, "RUNNING") for i in range(3)])
        plain = Plain()
        await app.mount(plain)
        textual = set(vars(plain)) | {name for cls in Plain.__mro__ for name in vars(cls)}
        ours = own_private_names(RunsTable) - set(vars(Plain))  # less what Textual generates
        assert "_running_ids" in ours
        assert not ours & textual
        assert table.is_running is True
